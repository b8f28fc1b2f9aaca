package main

import (
	"io"
	"net/url"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/migrate"
)

// scrubber removes the two URLs' secrets from anything printed. The
// backends already redact their errors; this is the second lock, because a
// password in a migration log is a leak whoever caused it.
type scrubber struct {
	replacer *strings.Replacer
}

// minSecret is the shortest secret replaced: replacing a one-letter password
// everywhere would garble every message and still not hide it.
const minSecret = 3

func newScrubber(urls ...string) *scrubber {
	var pairs []string
	for _, raw := range urls {
		if red := persist.Redact(raw); red != raw {
			pairs = append(pairs, raw, red)
		}
		for _, s := range secrets(raw) {
			if len(s) >= minSecret {
				pairs = append(pairs, s, "xxxxx")
				if esc := url.QueryEscape(s); esc != s {
					pairs = append(pairs, esc, "xxxxx")
				}
			}
		}
	}
	return &scrubber{replacer: strings.NewReplacer(pairs...)}
}

// secrets returns the passwords and tokens in a URL or key=value DSN.
func secrets(raw string) []string {
	var out []string
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
		for k, vs := range u.Query() {
			if secretKey(k) {
				out = append(out, vs...)
			}
		}
	}
	for _, f := range strings.Fields(raw) {
		if k, v, ok := strings.Cut(f, "="); ok && secretKey(k) {
			out = append(out, v)
		}
	}
	return out
}

func secretKey(k string) bool {
	switch strings.ToLower(k) {
	case "password", "pass", "pwd", "passwd", "token", "access_token", "sslpassword":
		return true
	}
	return false
}

func (s *scrubber) clean(msg string) string { return s.replacer.Replace(msg) }

// report scrubs every message of a report in place.
func (s *scrubber) report(r *migrate.Report) {
	if r == nil {
		return
	}
	for i, e := range r.Totals.Errors {
		r.Totals.Errors[i] = s.clean(e)
	}
	for t := range r.Tables {
		for i, e := range r.Tables[t].Errors {
			r.Tables[t].Errors[i] = s.clean(e)
		}
	}
}

// writer returns w with every write scrubbed, for the backends' log lines.
// slog writes one whole record per call, so a secret is never split.
func (s *scrubber) writer(w io.Writer) io.Writer { return scrubWriter{w, s} }

type scrubWriter struct {
	w io.Writer
	s *scrubber
}

func (sw scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(sw.w, sw.s.clean(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
