package persist_test

import (
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://user:s3cret@host:5432/db?sslmode=require", "postgres://user:xxxxx@host:5432/db?sslmode=require"},
		{"postgres://user@host/db", "postgres://user@host/db"},
		{"postgres://host/db?password=s3cret&sslmode=disable", "postgres://host/db?password=xxxxx&sslmode=disable"},
		{"host=db user=u password=s3cret dbname=x", "host=db user=u password=xxxxx dbname=x"},
		{"sqlite:///var/lib/app.db", "sqlite:///var/lib/app.db"},
		{"postgresql+psycopg2://u:s3cret@h/db", "postgresql+psycopg2://u:xxxxx@h/db"},
		{"postgres://u:s3cret@[::1:5432/db", "postgres://[unparseable url redacted]"},
		{"host=db password='with space s3cret' dbname=x", "host=db password=xxxxx dbname=x"},
		{`host=db password='it\'s s3cret' sslmode=disable`, "host=db password=xxxxx sslmode=disable"},
		{"host=db password='unterminated s3cret", "host=db password=xxxxx"},
		{"sqlite:///tmp/b.db?_auth_pass=s3cret&_auth_user=u", "sqlite:///tmp/b.db?_auth_pass=xxxxx&_auth_user=xxxxx"},
		{"postgres://h/db?sslpassword=s3cret", "postgres://h/db?sslpassword=xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := persist.Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q)=%q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "s3cret") {
				t.Errorf("Redact(%q) leaks the secret", tt.in)
			}
		})
	}
}
