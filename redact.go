package persist

import (
	"net/url"
	"strconv"
	"strings"
)

// Redact returns rawURL with any password replaced by "xxxxx", for logs and
// error messages. It handles URLs ("postgres://u:secret@h/db"), query
// parameters ("?password=secret") and key/value DSNs ("password=secret").
// Input it cannot parse is reduced to its scheme, so a secret is never
// echoed back.
func Redact(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	if !strings.Contains(rawURL, "://") && strings.Contains(rawURL, "=") && !strings.HasPrefix(rawURL, "file:") {
		return redactKeyValues(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		if i := strings.Index(rawURL, ":"); i > 0 {
			return rawURL[:i] + "://[unparseable url redacted]"
		}
		return "[unparseable url redacted]"
	}
	if q := u.Query(); len(q) > 0 {
		changed := false
		for k := range q {
			if isSecretKey(k) {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

func redactKeyValues(dsn string) string {
	fields := strings.Fields(dsn)
	for i, f := range fields {
		k, _, ok := strings.Cut(f, "=")
		if ok && isSecretKey(k) {
			fields[i] = k + "=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

func isSecretKey(k string) bool {
	switch strings.ToLower(k) {
	case "password", "pass", "pwd", "passwd", "token", "access_token", "sslpassword":
		return true
	}
	return false
}

func strconvQuote(s string) string { return strconv.Quote(s) }
