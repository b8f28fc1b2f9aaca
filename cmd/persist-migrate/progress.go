package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/persistkit/persist/migrate"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressView shows migrate.Progress on stderr. Updates arrive one at a
// time, one per batch, from the goroutines migrating the tables.
type progressView interface {
	update(migrate.Progress)
	finish()
}

// newProgressView draws a bar on a terminal, prints a line every
// logInterval otherwise (a log file or a CI console cannot redraw), and
// nothing when quiet. Tables migrated in parallel get lines too: one bar
// cannot show several tables.
func newProgressView(stderr io.Writer, quiet, parallel bool) progressView {
	if quiet {
		return nopView{}
	}
	if f, ok := stderr.(*os.File); ok && !parallel && term.IsTerminal(int(f.Fd())) {
		return &barView{w: stderr}
	}
	return &lineView{w: stderr, tables: map[string]*lineState{}}
}

type nopView struct{}

func (nopView) update(migrate.Progress) {}
func (nopView) finish()                 {}

// barView is one progress bar per table and phase, with rows/s and ETA.
type barView struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	table string
	phase migrate.Phase
}

func (v *barView) update(p migrate.Progress) {
	if v.bar == nil || p.Table != v.table || p.Phase != v.phase {
		v.finish()
		v.table, v.phase = p.Table, p.Phase
		if p.Phase == migrate.PhaseFollow {
			v.bar = progressbar.NewOptions64(-1,
				progressbar.OptionSetWriter(v.w),
				progressbar.OptionSetDescription(followLine(p)),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionSpinnerType(14),
				progressbar.OptionThrottle(100*time.Millisecond),
			)
			_ = v.bar.Add(1)
			return
		}
		if p.Phase == migrate.PhaseIndex {
			// No counts to show: a spinner says the build is under way.
			v.bar = progressbar.NewOptions64(-1,
				progressbar.OptionSetWriter(v.w),
				progressbar.OptionSetDescription(fmt.Sprintf("%-6s %s", p.Phase, p.Table)),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionSpinnerType(14),
			)
			_ = v.bar.Add(1)
			return
		}
		v.bar = progressbar.NewOptions64(max(p.Total, 1),
			progressbar.OptionSetWriter(v.w),
			progressbar.OptionSetDescription(fmt.Sprintf("%-6s %s", p.Phase, p.Table)),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	if p.Phase == migrate.PhaseFollow {
		v.bar.Describe(followLine(p))
		_ = v.bar.Add(1)
		return
	}
	if p.Done > v.bar.GetMax64() {
		v.bar.ChangeMax64(p.Done) // rows added to the source meanwhile
	}
	_ = v.bar.Set64(p.Done) // a drawing error must not stop the copy
}

func (v *barView) finish() {
	if v.bar != nil {
		_ = v.bar.Exit()
		fmt.Fprintln(v.w)
		v.bar = nil
	}
}

// logInterval spaces the progress lines written to a non-terminal.
const logInterval = 10 * time.Second

// lineView prints a progress line at each phase start of a table and every
// logInterval, with the rate since the phase started.
type lineView struct {
	w      io.Writer
	tables map[string]*lineState
}

// lineState is where one table's lines are.
type lineState struct {
	phase    migrate.Phase
	start    time.Time
	last     time.Time
	caughtUp bool // following: the lag was zero once
}

func (v *lineView) update(p migrate.Progress) {
	now := time.Now()
	st := v.tables[p.Table]
	if p.Phase == migrate.PhaseFollow {
		// A line when following starts, when the lag first reaches zero,
		// and every logInterval.
		caughtUp := p.LagRecords == 0 && st != nil && st.phase == p.Phase && !st.caughtUp
		if st == nil || st.phase != p.Phase || caughtUp || now.Sub(st.last) >= logInterval {
			if st == nil || st.phase != p.Phase {
				st = &lineState{phase: p.Phase, start: now}
				v.tables[p.Table] = st
			}
			st.last = now
			st.caughtUp = st.caughtUp || p.LagRecords == 0
			fmt.Fprintln(v.w, followLine(p))
		}
		return
	}
	if st == nil || p.Phase != st.phase {
		v.tables[p.Table] = &lineState{phase: p.Phase, start: now, last: now}
		if p.Phase == migrate.PhaseIndex {
			fmt.Fprintf(v.w, "%s %s: building the indexes deferred during the copy\n", p.Phase, p.Table)
			return
		}
		fmt.Fprintf(v.w, "%s %s: %d rows\n", p.Phase, p.Table, p.Total)
		return
	}
	if now.Sub(st.last) < logInterval {
		return
	}
	st.last = now
	rate := float64(p.Done) / now.Sub(st.start).Seconds()
	eta := ""
	if rate > 0 && p.Total > p.Done {
		eta = fmt.Sprintf(", ETA %s", time.Duration(float64(p.Total-p.Done)/rate*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintf(v.w, "%s %s: %d/%d rows, %.0f rows/s%s\n", p.Phase, p.Table, p.Done, p.Total, rate, eta)
}

func (v *lineView) finish() {}

// followLine describes following's progress.
func followLine(p migrate.Progress) string {
	if p.LagRecords == 0 {
		return fmt.Sprintf("follow: %d changes applied, caught up (lag 0 changes, 0 s)", p.Done)
	}
	return fmt.Sprintf("follow: %d changes applied, lag %d changes, %.1f s", p.Done, p.LagRecords, p.LagSeconds)
}
