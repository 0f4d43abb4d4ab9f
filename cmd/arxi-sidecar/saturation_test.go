package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSaturation fills max_in_flight with requests whose bodies never
// finish and queue_depth with requests waiting for a slot: a flood then
// gets 503 admission.saturated with Retry-After at once, while /health,
// /startup and /metrics keep answering and /ready reports the saturation
// (ready_fail_on_admission_saturation). Once the slow requests end, the
// sidecar serves again.
func TestSaturation(t *testing.T) {
	e := newEnv(t, "unix", map[string]string{
		"limits": "max_in_flight = 2\nqueue_depth = 2\nrequest_timeout = \"20s\"",
		"probes": "ready_fail_on_admission_saturation = true",
	})
	p := e.start(t)
	sock := filepath.Join(e.dir, "arxi.sock")
	var slow []net.Conn
	for range 4 {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The headers and a little of the body: the request holds a slot
		// (or waits for one) while it reads the rest.
		fmt.Fprintf(c, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"ev")
		slow = append(slow, c)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m := p.do("GET", "/metrics", nil)
		if bytes.Contains(m.body, []byte("\narxi_sidecar_in_flight 2\n")) && bytes.Contains(m.body, []byte("\narxi_sidecar_queue_depth 2\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow requests did not fill the slots and the queue:\n%s", m.body)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.try("POST", "/v1/envelopes", event(0))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			statuses[r.status]++
			if r.status == 503 && (r.header.Get("Retry-After") != "1" || !bytes.Contains(r.body, []byte(`"code":"admission.saturated"`))) {
				t.Errorf("503 without Retry-After or code: %v %s", r.header, r.body)
			}
		}()
	}
	// The probes answer while the flood is refused.
	for _, probe := range []string{"/health", "/startup"} {
		want(t, probe, p.do("GET", probe, nil), 200)
	}
	r := p.do("GET", "/ready", nil)
	want(t, "ready while saturated", r, 503, `"reasons":["admission_saturated"]`)
	wg.Wait()
	if statuses[503] != 50 {
		t.Fatalf("flood statuses %v, want 50 × 503", statuses)
	}
	m := p.do("GET", "/metrics", nil)
	want(t, "metrics", m, 200, "arxi_sidecar_admission_rejected_total 50")
	// End the slow requests: their slots come free.
	for _, c := range slow {
		c.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r := p.do("GET", "/ready", nil); r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sidecar did not become ready again")
		}
	}
	want(t, "after the flood", p.do("POST", "/v1/envelopes", event(1)), 201)
	if p.stop(syscall.SIGTERM) != 0 {
		t.Fatal(p.logText())
	}
}

// TestShutdownDrains: SIGTERM while a request is in flight lets it
// finish (within shutdown_timeout) before the sidecar exits 0.
func TestShutdownDrains(t *testing.T) {
	e := newEnv(t, "unix", map[string]string{"limits": "shutdown_timeout = \"20s\""})
	p := e.start(t)
	c, err := net.Dial("unix", filepath.Join(e.dir, "arxi.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := event(0)
	fmt.Fprintf(c, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	c.Write(body[:10])
	for deadline := time.Now().Add(20 * time.Second); !bytes.Contains(p.do("GET", "/metrics", nil).body, []byte("\narxi_sidecar_in_flight 1\n")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request is not in flight")
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for !strings.Contains(p.logText(), "shutting down") {
		time.Sleep(10 * time.Millisecond)
	}
	c.Write(body[10:])
	resp, _ := io.ReadAll(c)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 201 ")) {
		t.Fatalf("the in-flight request got %s", resp)
	}
	<-p.ended
	if p.code != 0 {
		t.Fatalf("exit %d", p.code)
	}
}
