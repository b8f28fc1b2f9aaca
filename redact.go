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

// redactKeyValues masks secrets in a libpq key/value DSN, whose values may
// be single-quoted with backslash escapes: password='a b\'c'.
func redactKeyValues(dsn string) string {
	var b strings.Builder
	for i := 0; i < len(dsn); {
		if dsn[i] == ' ' || dsn[i] == '\t' || dsn[i] == '\n' {
			b.WriteByte(dsn[i])
			i++
			continue
		}
		start := i
		for i < len(dsn) && dsn[i] != '=' && dsn[i] != ' ' {
			i++
		}
		key := dsn[start:i]
		if i >= len(dsn) || dsn[i] != '=' {
			b.WriteString(key)
			continue
		}
		i++ // '='
		vstart := i
		if i < len(dsn) && dsn[i] == '\'' {
			for i++; i < len(dsn) && dsn[i] != '\''; i++ {
				if dsn[i] == '\\' {
					i++
				}
			}
			i = min(i+1, len(dsn))
		} else {
			for i < len(dsn) && dsn[i] != ' ' && dsn[i] != '\t' && dsn[i] != '\n' {
				i++
			}
		}
		b.WriteString(key)
		b.WriteByte('=')
		if isSecretKey(key) {
			b.WriteString("xxxxx")
		} else {
			b.WriteString(dsn[vstart:i])
		}
	}
	return b.String()
}

// isSecretKey errs on the side of masking: any parameter whose name
// mentions a password, secret, token or auth is treated as a secret.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"pass", "pwd", "secret", "token", "auth"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func strconvQuote(s string) string { return strconv.Quote(s) }
