package budget_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist/budget"
)

// proxy forwards loopback TCP connections to a database, and can cut them
// all to make the database unreachable for real.
type proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	p := &proxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.start(tb)
	tb.Cleanup(p.stop)
	return p
}

func (p *proxy) start(tb testing.TB) {
	tb.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		tb.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // stopped while this one was being accepted
				p.mu.Unlock()
				c.Close()
				d.Close()
				return
			}
			p.conns[c], p.conns[d] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			p.wg.Go(func() { pipe(d, c) })
			p.wg.Go(func() { pipe(c, d) })
		}
	})
}

// stop closes the listener and every connection: new connections are
// refused until start.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

func TestUnavailable(t *testing.T) {
	base := postgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	db := mustOpen(t, u.String())
	ctx := context.Background()
	closed := mustLedger(t, db, nil)
	rec := &events{}
	open := mustLedger(t, db, &budget.Options{FailOpen: true, Observer: rec})
	org := budget.Scopes{Org: "acme"}
	mustSet(t, closed, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
	held := mustReserve(t, closed, org, m(t, "1"))
	day := time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC)
	if _, err := closed.DailyUsage(ctx, acme, day, day.Add(time.Hour)); err != nil {
		t.Fatalf("DailyUsage: %v", err)
	}

	p.stop()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	t.Run("FailClosed", func(t *testing.T) {
		if _, err := closed.Reserve(tctx, budget.Request{Scopes: org, Estimate: 1}); !errors.Is(err, budget.ErrUnavailable) {
			t.Errorf("Reserve err=%v, want ErrUnavailable", err)
		}
		if _, err := closed.Check(tctx, budget.Request{Scopes: org, Estimate: 1}); !errors.Is(err, budget.ErrUnavailable) {
			t.Errorf("Check err=%v, want ErrUnavailable", err)
		}
		if err := held.Commit(tctx, m(t, "1")); !errors.Is(err, budget.ErrUnavailable) {
			t.Errorf("Commit err=%v, want ErrUnavailable", err)
		}
		// closed has its index (declared before the cut), so the read
		// fails; open fails declaring it.
		for _, l := range []*budget.Ledger{closed, open} {
			if _, err := l.DailyUsage(tctx, acme, day, day.Add(time.Hour)); !errors.Is(err, budget.ErrUnavailable) {
				t.Errorf("DailyUsage err=%v, want ErrUnavailable", err)
			}
		}
	})
	var admitted *budget.Reservation
	t.Run("FailOpen", func(t *testing.T) {
		d, err := open.Check(tctx, budget.Request{Scopes: org, Estimate: 1})
		if err != nil || !d.Allowed || !d.FailOpen {
			t.Errorf("Check=%+v, %v, want allowed and flagged", d, err)
		}
		admitted, err = open.Reserve(tctx, budget.Request{Scopes: org, Estimate: m(t, "2")})
		if err != nil || !admitted.Decision().Allowed || !admitted.Decision().FailOpen {
			t.Fatalf("Reserve=%v, %v, want an allowed fail-open reservation", admitted, err)
		}
		got, _ := rec.take()
		want := []budget.Event{{Kind: budget.EventFailOpen, Op: "check", Amount: 1}, {Kind: budget.EventFailOpen, Op: "reserve", Amount: m(t, "2")}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("events %+v, want %+v", got, want)
		}
	})

	p.start(t)
	t.Run("Recovered", func(t *testing.T) {
		if admitted == nil {
			t.Skip("no fail-open reservation")
		}
		// The commit that failed may be retried; the fail-open one charges.
		if err := held.Commit(tctx, m(t, "1")); err != nil {
			t.Fatalf("Commit retried: %v", err)
		}
		if err := admitted.Commit(tctx, m(t, "1.5")); err != nil {
			t.Fatalf("Commit of the fail-open reservation: %v", err)
		}
		if got, _ := rec.take(); len(got) != 1 || got[0] != (budget.Event{Kind: budget.EventCommitted, Op: "commit", Amount: m(t, "1.5")}) {
			t.Errorf("events %+v, want one commit that held nothing", got)
		}
		if u := usage(t, closed, acme, budget.Daily); u.Spent != m(t, "2.5") || u.Reserved != 0 {
			t.Errorf("spent %v reserved %v, want 2.5 and 0", u.Spent, u.Reserved)
		}
	})
}
