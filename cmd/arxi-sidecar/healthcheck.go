package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"arxi.dev/arxi/pkg/cli"
)

const healthUsage = `arxi-sidecar healthcheck asks a sidecar's probe and exits 0 when it answers
200, 1 otherwise (an error status, a refused connection, a timeout), for
container health checks. Probes need no token.

Usage:
  arxi-sidecar healthcheck --url URL
  arxi-sidecar healthcheck --unix-socket PATH [--path /ready]

Example:
  arxi-sidecar healthcheck --unix-socket /run/arxi/arxi.sock --path /ready`

func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("arxi-sidecar healthcheck", healthUsage, stdout, stderr)
	rawURL := c.Flags.String("url", "", "the probe's `URL` (http://127.0.0.1:7337/ready)")
	socket := c.Flags.String("unix-socket", "", "the sidecar's Unix socket `PATH`")
	path := c.Flags.String("path", "/health", "with --unix-socket: the probe's `path`")
	timeout := c.Flags.Duration("timeout", 5*time.Second, "give up after this `duration`")
	if err := parse(c, args); err != nil {
		return c.Exit(err)
	}
	switch {
	case len(c.Args()) > 0:
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	case (*rawURL == "") == (*socket == ""):
		return c.Exit(c.UsageError("give --url or --unix-socket, one of them"))
	case *timeout <= 0:
		return c.Exit(c.UsageError("--timeout must be positive"))
	case !strings.HasPrefix(*path, "/"):
		return c.Exit(c.UsageError("--path %q must start with /", *path))
	}
	client := &http.Client{Timeout: *timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	target := *rawURL
	if *socket != "" {
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", *socket)
		}}
		target = "http://arxi-sidecar" + *path
	} else if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c.Exit(c.UsageError("--url %q is not an http or https URL", target))
	}
	req, err := http.NewRequestWithContext(ctx, "GET", target, nil)
	if err != nil {
		return c.Exit(c.UsageError("--url: %v", err))
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "arxi-sidecar healthcheck: unhealthy: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "arxi-sidecar healthcheck: unhealthy: %s answered %s\n", req.URL.Path, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "healthy: %s\n", resp.Status)
	return 0
}
