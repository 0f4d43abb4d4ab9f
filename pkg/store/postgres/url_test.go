package postgres

import (
	"errors"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, log, display, conn string
		err                    string
	}{
		{in: "postgres://arxi@db.internal:5432/evidence?log=recorder-1", log: "recorder-1",
			display: "postgres://arxi@db.internal:5432/evidence?log=recorder-1", conn: "postgres://arxi@db.internal:5432/evidence"},
		{in: "postgresql://arxi@db/evidence", log: DefaultLog, display: "postgresql://arxi@db/evidence", conn: "postgresql://arxi@db/evidence"},
		{in: "postgres:///evidence?host=/run/postgresql&sslmode=disable&application_name=x&log=a:b", log: "a:b",
			display: "postgres:///evidence?host=/run/postgresql&log=a%3Ab&sslmode=disable",
			conn:    "postgres:///evidence?application_name=x&host=%2Frun%2Fpostgresql&sslmode=disable"},
		{in: "postgres://arxi:hunter2@db/evidence", err: "holds a password"},
		{in: "postgres://arxi:@db/evidence", err: "holds a password"},
		{in: "postgres://arxi@db/evidence?password=hunter2", err: "holds a password parameter"},
		{in: "postgres://arxi@db/evidence?sslpassword=hunter2", err: "holds a sslpassword parameter"},
		{in: "postgres://arxi@db/evidence?log=a&log=b", err: "more than one log"},
		{in: "postgres://arxi@db/evidence?log=" + strings.Repeat("x", 300), err: "recorder id"},
		{in: "postgres://arxi@db/evidence?log=", err: "recorder id"},
		{in: "postgres://arxi:hunter2@db:port/evidence", err: "does not parse"},
		{in: "postgres://arxi@db/evidence?x=%zz", err: "parameters of the store URL"},
		{in: "mysql://arxi@db/evidence", err: "starts with postgres://"},
	} {
		u, err := ParseURL(tc.in)
		if tc.err != "" {
			if !errors.Is(err, errcode.ConfigInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) = %v, want config.invalid %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("ParseURL(%q): the error shows the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if u.Log != tc.log || u.String() != tc.display || u.conn != tc.conn {
			t.Errorf("ParseURL(%q) = log %q, display %q, conn %q; want %q, %q, %q", tc.in, u.Log, u.String(), u.conn, tc.log, tc.display, tc.conn)
		}
	}
}

// FuzzParseURL: ParseURL never panics, and neither its errors nor a parsed
// URL's printed form repeat a password given in the URL.
func FuzzParseURL(f *testing.F) {
	for _, s := range [][3]string{{"u", "s3cr3t-pw", "h/db?log=x"}, {"u", "s3cr3t-pw", "h:1/db?password=p&log=y"},
		{"u", "s3cr3t-pw", "[::1/db"}, {"%zz", "s3cr3t-pw", "h/db"}, {"u", "%41pw", "h:port/db"}, {"", "pw", "/db?host=/tmp&log=a"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, user, pw, rest string) {
		// The password is doubled, so that a short one cannot be found in
		// the fixed text of an error (" ne" is in "parse: net/url") while
		// keeping the characters that decide how the URL parses.
		pw += pw
		in := "postgres://" + user + ":" + pw + "@" + rest
		u, err := ParseURL(in)
		if strings.ContainsAny(user+pw, "/?#@[]") || len(pw) < 6 || strings.Contains("postgres://"+user+":@"+rest, pw) {
			return // not a URL whose userinfo holds pw, or pw too common to look for
		}
		if err == nil {
			t.Fatalf("ParseURL(%q) accepts a password: %s", in, u)
		}
		if strings.Contains(err.Error(), pw) {
			t.Fatalf("ParseURL(%q): the error shows the password: %v", in, err)
		}
	})
}
