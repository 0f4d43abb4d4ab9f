// Package sidecar runs arxi-sidecar (SIDECAR.md): the recorder as a local
// HTTP/JSON service. Run binds the configured listener, serves the API of
// package api, opens and verifies the store, starts the recorder of
// package recorder, and on the end of its context shuts down in order:
// stop accepting, let in-flight requests finish within shutdown_timeout,
// seal the open segment (reason shutdown) if configured, close the store.
//
// Nothing here is evidence logic: the store, the sealer, the bundle
// builder and the verifier are the packages the filters use.
package sidecar

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/config"
	"arxi.dev/arxi/pkg/sidecar/enterprise"
	"arxi.dev/arxi/pkg/sidecar/recorder"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/memory"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure Run beyond the configuration file.
type Options struct {
	Logger *slog.Logger
	// Intercept is the API's interceptor chain (api.Config.Intercept).
	Intercept []api.Middleware
}

// idleTimeout closes keep-alive connections left idle this long.
const idleTimeout = 2 * time.Minute

// Run runs the sidecar until ctx ends, then shuts it down; it returns nil
// after a clean shutdown. A configuration or startup failure (the socket
// in use, the store locked or corrupt) is returned as an *errcode.Error.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ln, addr, err := listen(cfg)
	if err != nil {
		return err
	}
	unix := cfg.Transport.Mode == "unix"
	tempDir := ""
	if cfg.Store.Backend == "sqlite" {
		tempDir = filepath.Dir(cfg.Store.Path)
	}
	reg := prometheus.NewRegistry()
	acfg := api.Config{Sidecar: cfg, Unix: unix, TempDir: tempDir, Logger: log, Registry: reg, Intercept: opts.Intercept}
	if e := &cfg.Enterprise; e.Mode == "enforce" {
		br := enterprise.New(enterprise.Config{URL: e.ControlPlaneURL, Token: cfg.ControlPlaneToken(), Timeout: e.DecisionTimeout.Duration,
			RequireWriterLease: e.RequireWriterLease, Conns: cfg.Limits.MaxInFlight, Logger: log, Registry: reg})
		defer br.Close()
		acfg.Intercept = append([]api.Middleware{br.Gate}, acfg.Intercept...)
		if cfg.Probes.ReadinessMode == "storage_and_enterprise" {
			acfg.ReadyChecks = append(acfg.ReadyChecks, br.Ready)
			wctx, stop := context.WithCancel(ctx)
			defer stop()
			br.Watch(wctx)
		}
		log.Info("enterprise mode: every request is decided by the control plane", "control_plane_url", e.ControlPlaneURL,
			"decision_timeout", e.DecisionTimeout.String(), "require_writer_lease", e.RequireWriterLease, "readiness_mode", cfg.Probes.ReadinessMode)
	}
	srv := api.New(acfg)
	hs := &http.Server{
		Handler:           srv,
		MaxHeaderBytes:    config.MaxHeaderBytesCap,
		ReadHeaderTimeout: cfg.Limits.RequestTimeout.Duration,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", "transport", cfg.Transport.Mode, "address", addr, "auth", cfg.Auth.Mode)
	if !unix && !net.ParseIP(cfg.Transport.Host).IsLoopback() {
		log.Warn("listening on a non-loopback address with plain HTTP: put TLS in front of the sidecar", "address", addr)
	}

	st, rec, err := open(ctx, cfg, srv, log)
	if err != nil {
		hs.Close()
		return err
	}
	srv.SetBackend(&api.Backend{Store: st, Recorder: rec, Catalog: &storesource.Catalog{}})
	log.Info("started", "backend", cfg.Store.Backend, "recorder_id", cfg.Recorder.RecorderID, "signed", cfg.Resources().SignKey != nil)

	select {
	case <-ctx.Done():
	case err := <-served:
		log.Error("the listener failed", "error", err)
		rec.Close(false)
		st.Close()
		return errcode.Wrap(errcode.IOFailed, err, "serve")
	}
	log.Info("shutting down", "shutdown_timeout", cfg.Limits.ShutdownTimeout.String())
	srv.Stopping()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Limits.ShutdownTimeout.Duration)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish within shutdown_timeout; closing their connections", "error", err)
		hs.Close()
	}
	seal, err := rec.Close(cfg.Recorder.SealOnShutdown)
	switch {
	case err != nil:
		log.Error("the shutdown seal failed", "error", err.Error())
	case seal != nil:
		log.Info("sealed the open segment", "segment_id", seal.SegmentID.String(), "reason", string(seal.Reason), "envelopes", seal.EnvelopeCount)
	}
	if cerr := st.Close(); cerr != nil && err == nil {
		err = cerr
	}
	log.Info("stopped")
	return err
}

// open opens and verifies the store and starts the recorder on it.
func open(ctx context.Context, cfg *config.Config, srv *api.Server, log *slog.Logger) (*store.Store, *recorder.Recorder, error) {
	var b store.Backend
	switch cfg.Store.Backend {
	case "memory":
		log.Warn("store backend memory: the evidence is ephemeral and is lost when the sidecar stops")
		b = memory.New()
	default:
		addr := cfg.Store.Path
		if cfg.Store.Backend == "postgres" {
			addr = cfg.Store.URL
		}
		db, err := backend.Open(ctx, backend.Config{Store: addr})
		if err != nil {
			return nil, nil, err
		}
		b = db
	}
	start := time.Now()
	st, err := store.Open(ctx, b, store.Config{VerifyDepth: cfg.Store.VerifyDepth})
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	var signers []sealing.Signer
	if k := cfg.Resources().SignKey; k != nil {
		signers = append(signers, k)
	}
	rc := &cfg.Recorder
	rec, err := recorder.Start(ctx, recorder.Config{Store: st, RecorderID: scalar.MustLabel(rc.RecorderID),
		MaxEnvelopes: uint64(rc.MaxEnvelopes), MaxDuration: rc.MaxDuration.Duration, Signers: signers,
		Queue: cfg.Limits.MaxInFlight + 1, IdempotencyTTL: cfg.Idempotency.TTL.Duration, IdempotencyMax: cfg.Idempotency.MaxEntries,
		Observer: srv.Observer()})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	log.Info("store open and verified", "backend", cfg.Store.Backend, "verify_depth", cfg.Store.VerifyDepth,
		"took_ms", time.Since(start).Milliseconds())
	return st, rec, nil
}

// listen binds the configured listener: a Unix socket created 0660 (a
// stale one, that nothing answers on, is removed first; a live one is an
// error), or a TCP address.
func listen(cfg *config.Config) (net.Listener, string, error) {
	t := &cfg.Transport
	if t.Mode == "tcp" {
		addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", &errcode.Error{Code: errcode.ConfigInvalid, Field: "transport.port", Msg: "cannot listen on " + addr, Err: err}
		}
		return ln, ln.Addr().String(), nil
	}
	path := t.UnixSocket
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != os.ModeSocket {
			return nil, "", &errcode.Error{Code: errcode.ConfigInvalid, Field: "transport.unix_socket", Msg: "exists and is not a socket"}
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, "", &errcode.Error{Code: errcode.ConfigInvalid, Field: "transport.unix_socket", Msg: "another process is listening on the socket"}
		}
		if err := os.Remove(path); err != nil {
			return nil, "", &errcode.Error{Code: errcode.ConfigInvalid, Field: "transport.unix_socket", Msg: "cannot remove the stale socket", Err: err}
		}
	}
	// The socket is created with the process's umask: make it 0660 from
	// the start, not after a window of wider permissions.
	old := syscall.Umask(0o117)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, "", &errcode.Error{Code: errcode.ConfigInvalid, Field: "transport.unix_socket", Msg: "cannot listen on the socket", Err: err}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, "", &errcode.Error{Code: errcode.ConfigInvalid, Field: "transport.unix_socket", Msg: "cannot set the socket's mode", Err: err}
	}
	return ln, path, nil
}
