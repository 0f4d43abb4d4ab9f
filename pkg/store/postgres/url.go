package postgres

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

// DefaultLog is the log of a URL without a log parameter.
const DefaultLog = "default"

// IsURL reports whether a store address is a PostgreSQL URL
// (postgres:// or postgresql://) rather than a file path.
func IsURL(addr string) bool {
	return strings.HasPrefix(addr, "postgres://") || strings.HasPrefix(addr, "postgresql://")
}

// URL is a parsed store URL (SPEC §8.1):
// postgres://USER@HOST:PORT/DB?log=NAME, any libpq parameter besides log,
// and never a password.
type URL struct {
	// Log is the log's name (DefaultLog when the URL has none).
	Log string
	// conn is the URL without the log parameter, for pgx.
	conn string
	// display is the URL reduced to what is safe and useful to print.
	display string
}

// secretParams are URL parameters that carry secrets: refused, since
// secrets come from PGPASSWORD or a password file only.
var secretParams = []string{"password", "sslpassword"}

// shownParams are the parameters a printed URL keeps.
var shownParams = []string{"host", "port", "dbname", "user", "sslmode", "log"}

// ParseURL parses a store URL. A password in it is config.invalid: the
// error, like every other, never repeats it.
func ParseURL(s string) (*URL, error) {
	bad := func(msg string) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: "store", Msg: msg}
	}
	if !IsURL(s) {
		return nil, bad("a PostgreSQL store URL starts with postgres:// or postgresql://")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse quotes the whole URL in its errors; give only the cause,
		// with whatever stood before an @ removed.
		msg := "the store URL does not parse"
		var ue *url.Error
		if errors.As(err, &ue) {
			msg += ": " + scrubUserinfo(s, ue.Err.Error())
		}
		return nil, bad(msg)
	}
	if _, set := u.User.Password(); set {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "store",
			Msg:  "the store URL " + display(u) + " holds a password",
			Hint: "give the password in PGPASSWORD or a password file (~/.pgpass, or PGPASSFILE), never in the URL"}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad("the parameters of the store URL " + display(u) + " do not parse")
	}
	for _, p := range secretParams {
		if q.Has(p) {
			return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "store",
				Msg:  "the store URL " + display(u) + " holds a " + p + " parameter",
				Hint: "give passwords in PGPASSWORD or a password file (~/.pgpass, or PGPASSFILE), never in the URL"}
		}
	}
	log := DefaultLog
	switch logs := q["log"]; len(logs) {
	case 0:
	case 1:
		if _, err := scalar.ParseLabel(logs[0]); err != nil {
			return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "store", Msg: "log " + strconv.Quote(logs[0]) + ": a log name follows the rules of a recorder id (SPEC §2)", Err: err}
		}
		log = logs[0]
	default:
		return nil, bad("the store URL names more than one log")
	}
	q.Del("log")
	c := *u
	c.RawQuery = q.Encode()
	return &URL{Log: log, conn: c.String(), display: display(u)}, nil
}

// String returns the URL as it is safe to print: scheme, user, host,
// port, database, and the host, port, sslmode and log parameters.
func (u *URL) String() string { return u.display }

func display(u *url.URL) string {
	d := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		d.User = url.User(u.User.Username())
	}
	q := u.Query()
	keep := url.Values{}
	for _, p := range shownParams {
		if v, ok := q[p]; ok {
			keep[p] = v
		}
	}
	// A socket directory reads better with its slashes as they are, which
	// a query may hold (RFC 3986 §3.4).
	d.RawQuery = strings.ReplaceAll(keep.Encode(), "%2F", "/")
	return d.String()
}

// scrubUserinfo removes from msg anything of s's userinfo (what stands
// between :// and the last @ of the authority).
func scrubUserinfo(s, msg string) string {
	rest := s[strings.Index(s, "://")+3:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return msg
	}
	info := rest[:at]
	if info == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, info, "…")
	if _, pw, ok := strings.Cut(info, ":"); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "…")
	}
	// url.Parse quotes the piece it stumbled on (invalid URL escape
	// "%X0"), which can be part of a password however the userinfo
	// splits: a quoted piece of the userinfo goes too.
	var out strings.Builder
	for {
		i := strings.IndexByte(msg, '"')
		if i < 0 {
			break
		}
		k := strings.IndexByte(msg[i+1:], '"')
		if k < 0 {
			break
		}
		j := i + 1 + k
		out.WriteString(msg[:i+1])
		if q := msg[i+1 : j]; q != "" && strings.Contains(info, q) {
			out.WriteString("…")
		} else {
			out.WriteString(q)
		}
		out.WriteByte('"')
		msg = msg[j+1:]
	}
	out.WriteString(msg)
	return out.String()
}
