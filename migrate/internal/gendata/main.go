// Command gendata writes a SQLite database of synthetic pipeline-run
// documents for the migration benchmark (migrate/bench.sh): N records of
// about 270 bytes of JSON each, nested, with non-ASCII text, in the earlier
// portal's table layout (id TEXT PRIMARY KEY, data TEXT NOT NULL
// CHECK(json_valid(data))), which is what operators migrate and what
// pgloader can read as it is. Ids are random UUIDs, so insertion order and
// id order differ, as they do in a real portal. The output is deterministic
// for a given -n and -seed.
//
//	go run ./migrate/internal/gendata -n 1000000 -out /tmp/bench.db
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite"
)

func main() {
	n := flag.Int("n", 1_000_000, "number of records")
	out := flag.String("out", "bench.db", "SQLite file to create (replaced if it exists)")
	table := flag.String("table", "pipeline_runs", "table name")
	ntables := flag.Int("tables", 1, "spread the records evenly over this many tables, named TABLE_1, TABLE_2, ... when more than one")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	start := time.Now()
	bytes, err := generate(context.Background(), *out, *table, *ntables, *n, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gendata: %d records, %.0f bytes of JSON on average, into %s in %.1fs\n",
		*n, float64(bytes)/float64(max(*n, 1)), *out, time.Since(start).Seconds())
}

// rowsPerInsert rows go into one multi-row INSERT: 2 parameters each, well
// under SQLite's limit of 32766.
const rowsPerInsert = 500

func generate(ctx context.Context, path, table string, ntables, n int, seed uint64) (int64, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	// The file is scratch until it is complete: no journal, no fsync.
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if ntables <= 1 {
		return fill(ctx, db, g, table, n)
	}
	var total int64
	for i := range ntables {
		// The first tables take the remainder.
		k := n / ntables
		if i < n%ntables {
			k++
		}
		b, err := fill(ctx, db, g, fmt.Sprintf("%s_%d", table, i+1), k)
		if err != nil {
			return 0, err
		}
		total += b
	}
	return total, nil
}

// fill creates table in the earlier portal's layout and writes n records.
func fill(ctx context.Context, db *sql.DB, g *gen, table string, n int) (int64, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+table+` (id TEXT PRIMARY KEY, data TEXT NOT NULL CHECK(json_valid(data)))`); err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	full := `INSERT INTO ` + table + ` (id, data) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?),", rowsPerInsert), ",")
	stmt, err := tx.PrepareContext(ctx, full)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()

	var total int64
	args := make([]any, 0, 2*rowsPerInsert)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		var err error
		if len(args) == 2*rowsPerInsert {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			q := `INSERT INTO ` + table + ` (id, data) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?),", len(args)/2), ",")
			_, err = tx.ExecContext(ctx, q, args...)
		}
		args = args[:0]
		return err
	}
	for i := range n {
		doc := g.doc(i)
		total += int64(len(doc))
		args = append(args, g.uuid(), doc)
		if len(args) == 2*rowsPerInsert {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return total, tx.Commit()
}

type gen struct {
	r   *rand.Rand
	buf []byte
}

func (g *gen) uuid() string {
	const hex = "0123456789abcdef"
	var b [36]byte
	hi, lo := g.r.Uint64(), g.r.Uint64()
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		b[j] = hex[nib]
		j++
	}
	b[14] = '4' // version 4 shape
	return string(b[:])
}

var (
	pipelines = []string{"ingest-orders", "nightly-ledger", "crm-sync", "clickstream-eu", "inventory-delta", "fx-rates"}
	statuses  = []string{"succeeded", "succeeded", "succeeded", "failed", "running", "cancelled"}
	people    = []string{"Zoë Müller", "José Álvarez", "Søren Kierkegård", "李小龙", "Ngozi Okonkwo", "Łukasz Żak", "Ἀριστοτέλης"}
	steps     = []string{"extract", "transform", "validate", "load", "notify"}
	tags      = []string{"nightly", "区域-eu", "prod", "backfill", "priorité", "ad-hoc", "ünïcødé"}
	triggers  = []string{"schedule", "manual", "webhook"}
)

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// doc returns one pipeline-run document, about 270 bytes (240 to 320).
func (g *gen) doc(i int) string {
	b := g.buf[:0]
	b = append(b, `{"pipeline":"`...)
	b = append(b, g.pick(pipelines)...)
	b = append(b, `","run":`...)
	b = strconv.AppendInt(b, int64(i+1), 10)
	b = append(b, `,"status":"`...)
	b = append(b, g.pick(statuses)...)
	b = append(b, `","trigger":{"kind":"`...)
	b = append(b, g.pick(triggers)...)
	b = append(b, `","by":"`...)
	b = append(b, g.pick(people)...)
	b = append(b, `"},"started":"2024-`...)
	b = fmt.Appendf(b, "%02d-%02dT%02d:%02d:%02dZ", 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60))
	b = append(b, `","ms":`...)
	b = strconv.AppendInt(b, int64(g.r.IntN(3_600_000)), 10)
	b = append(b, `,"steps":[`...)
	ns := 1 + g.r.IntN(3)/2 // one step, sometimes two
	for s := range ns {
		if s > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"n":"`...)
		b = append(b, steps[(s+g.r.IntN(2))%len(steps)]...)
		b = append(b, `","rows":`...)
		b = strconv.AppendInt(b, int64(g.r.IntN(1_000_000)), 10)
		b = append(b, `,"ok":`...)
		b = strconv.AppendBool(b, g.r.IntN(10) > 0)
		b = append(b, '}')
	}
	b = append(b, `],"tags":["`...)
	b = append(b, g.pick(tags)...)
	b = append(b, `","`...)
	b = append(b, g.pick(tags)...)
	b = append(b, `"],"cost":{"usd":`...)
	b = strconv.AppendFloat(b, float64(g.r.IntN(100_000))/100, 'f', -1, 64)
	b = append(b, `}}`...)
	g.buf = b
	return string(b)
}
