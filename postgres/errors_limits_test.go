package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

// TestDataExceptionIsErrInvalid checks the last line of defence: a value
// the server refuses, which validation should have refused first, still
// yields ErrInvalid with the driver's error reachable.
func TestDataExceptionIsErrInvalid(t *testing.T) {
	db, _ := mustOpen(t, nil)
	ctx := context.Background()
	tests := []struct {
		name, sql, code string
	}{
		{"numeric_overflow", `SELECT '{"n":0e1073741823}'::jsonb`, "22003"},
		{"jsonb_nul", `SELECT '{"n":"\u0000"}'::jsonb`, "22P05"},
		{"invalid_json", `SELECT '{"n":}'::jsonb`, "22P02"},
		{"program_limit", `SELECT array_fill(1, ARRAY[200000000])`, "54000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := postgres.MapStatementError(ctx, db, tt.sql)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("err=%v, want ErrInvalid", err)
			}
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Fatalf("err=%v, want the driver's error with SQLSTATE %s reachable", err, tt.code)
			}
			if persist.IsTransient(err) {
				t.Fatalf("err=%v is transient; bad input is not retried", err)
			}
		})
	}
}
