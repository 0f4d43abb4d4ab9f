// Package capturegen writes synthetic OpenClaw gateway captures for tests
// and benchmarks. No real gateway capture is published, so this package
// builds them from the documented format (OPENCLAW.md §1, OpenClaw's
// src/infra/agent-events.ts and the gateway's frame schema):
//
//   - a connection starts with the gateway's hello-ok response frame,
//     {"type":"res","id":…,"ok":true,"payload":{"type":"hello-ok",…}};
//   - every broadcast is an event frame {"type":"event","event":E,
//     "payload":P,"seq":n} whose seq counts the connection's broadcasts;
//     tick and health events come between the agent events, and a chat
//     event (the gateway's own summary of a run) after each run;
//   - an agent payload is {"runId","seq","stream","ts","data",
//     "sessionKey"} (and "agentId" for agents that send it), its keys in
//     the order OpenClaw writes them, not sorted;
//   - a run is lifecycle start, thinking and assistant deltas, tool calls
//     (tool start with args, an update with a partial result, the result),
//     a final assistant text and lifecycle end, seq 1, 2, 3, … per run;
//   - every third run of a session fails first (lifecycle error) and is
//     retried under the same runId, its seq starting at 1 again.
//
// Tool arguments and results carry secrets and file contents on purpose
// (an apiKey, a password in a file, a bearer token, a deviceToken), so
// tests can check that none reaches the evidence: they all contain
// Secret, and nothing else does.
//
// The output depends only on the Config: the same Config gives the same
// bytes.
package capturegen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Base is the ts of the first event.
var Base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// Secret is in every planted secret and in nothing else.
const Secret = "s3cr3t"

// Config says what to generate. Zero fields take the defaults in
// brackets.
type Config struct {
	Sessions int // session keys [3]
	Runs     int // runs per session [2]
	Tools    int // tool calls per run [2]
	Deltas   int // assistant deltas per run [3]
	// Payloads writes bare agent payloads, one per line, instead of
	// frames.
	Payloads bool
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Sessions, 3)
	def(&c.Runs, 2)
	def(&c.Tools, 2)
	def(&c.Deltas, 3)
	return c
}

// EventsPerRun is the number of agent events of one attempt of a run.
func (c Config) EventsPerRun() int {
	c = c.withDefaults()
	return 4 + c.Deltas + 3*c.Tools // lifecycle ×2, thinking, deltas, tools, final text
}

// kv is one member of an object written in order.
type kv struct {
	k string
	v any
}

// obj marshals members in the order given, as JavaScript's JSON.stringify
// does.
type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(m.k)
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

type session struct {
	key, agent string
	sendAgent  bool // the payloads carry agentId
}

var tools = []string{"read", "exec", "web_fetch", "write"}

// Write writes the capture to w and returns the number of agent events.
func Write(w io.Writer, cfg Config) (int, error) {
	cfg = cfg.withDefaults()
	g := &gen{cfg: cfg, w: bufio.NewWriterSize(w, 64<<10), ts: Base.UnixMilli()}
	if !cfg.Payloads {
		g.frame(obj{{"type", "res"}, {"id", "connect-1"}, {"ok", true}, {"payload", obj{
			{"type", "hello-ok"}, {"protocol", 3}, {"server", obj{{"version", "2026.11.1"}, {"connId", "conn-7f3a"}}},
			{"features", obj{{"methods", []string{"chat.send", "sessions.list"}}, {"events", []string{"agent", "chat", "tick", "health"}}}},
			{"auth", obj{{"deviceToken", "dt-" + Secret + "-0a1b"}}},
		}}})
	}
	var sessions []session
	for i := range cfg.Sessions {
		agent := []string{"main", "ops", "research"}[i%3]
		sessions = append(sessions, session{
			key:       fmt.Sprintf("agent:%s:webchat:dm:user-%02d", agent, i),
			agent:     agent,
			sendAgent: agent == "ops",
		})
	}
	for r := range cfg.Runs {
		for si, s := range sessions {
			runID := fmt.Sprintf("run-%02d-%03d", si, r)
			if r%3 == 2 {
				g.run(s, runID, r, true) // fails, then is retried
			}
			g.run(s, runID, r, false)
			g.event("chat", obj{{"runId", runID}, {"sessionKey", s.key}, {"seq", g.events}, {"state", "final"}})
		}
	}
	if err := g.w.Flush(); err != nil {
		return 0, err
	}
	return g.events, g.err
}

type gen struct {
	cfg    Config
	w      *bufio.Writer
	ts     int64
	fseq   int
	events int
	err    error
}

func (g *gen) line(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		b = append(b, '\n')
		_, err = g.w.Write(b)
	}
	if err != nil && g.err == nil {
		g.err = err
	}
}

func (g *gen) frame(v obj) { g.line(v) }

// event writes a broadcast event frame (nothing for bare payloads), and
// every 16th frame a tick.
func (g *gen) event(name string, payload any) {
	if g.cfg.Payloads {
		return
	}
	g.fseq++
	g.frame(obj{{"type", "event"}, {"event", name}, {"payload", payload}, {"seq", g.fseq}})
	if g.fseq%16 == 0 {
		g.fseq++
		g.frame(obj{{"type", "event"}, {"event", "tick"}, {"payload", obj{{"ts", g.ts}}}, {"seq", g.fseq}})
	}
	if g.fseq%97 == 0 {
		g.fseq++
		g.frame(obj{{"type", "event"}, {"event", "health"}, {"payload", obj{{"ok", true}, {"ts", g.ts}}}, {"seq", g.fseq}, {"stateVersion", obj{{"presence", 3}, {"health", 7}}}})
	}
}

// agent writes one agent event.
func (g *gen) agent(s session, runID string, seq int, stream string, data obj) {
	g.ts += int64(37 + (seq*7919)%211)
	p := obj{{"runId", runID}, {"seq", seq}, {"stream", stream}, {"ts", g.ts}, {"data", data}, {"sessionKey", s.key}}
	if s.sendAgent {
		p = append(p, kv{"agentId", s.agent})
	}
	g.events++
	if g.cfg.Payloads {
		g.line(p)
		return
	}
	g.event("agent", p)
}

var words = strings.Fields(`the build of service alpha failed at the integration stage because the
fixture database was not migrated before the tests ran so the next step is to run the migration
then rerun the suite and report which tests still fail with their first error line`)

// text is n words of deterministic prose, varied by i.
func text(i, n int) string {
	var b strings.Builder
	for j := range n {
		if j > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[(i*31+j*7)%len(words)])
	}
	return b.String()
}

// run writes one attempt of a run: ok, or failing with lifecycle error
// after its first tool call.
func (g *gen) run(s session, runID string, r int, fail bool) {
	cfg := g.cfg
	seq := 0
	next := func() int { seq++; return seq }
	g.agent(s, runID, next(), "lifecycle", obj{{"phase", "start"}, {"startedAt", g.ts}})
	g.agent(s, runID, next(), "thinking", obj{{"text", text(r, 12)}, {"delta", text(r, 12)}})
	acc := ""
	for d := range cfg.Deltas {
		delta := text(r+d, 6) + " "
		acc += delta
		g.agent(s, runID, next(), "assistant", obj{{"text", acc}, {"delta", delta}})
	}
	for t := range cfg.Tools {
		name := tools[(r+t)%len(tools)]
		id := fmt.Sprintf("call_%s_%d_%d", runID, r, t)
		args := toolArgs(name, r, t)
		g.agent(s, runID, next(), "tool", obj{{"phase", "start"}, {"name", name}, {"toolCallId", id}, {"args", args}})
		if fail {
			g.agent(s, runID, next(), "lifecycle", obj{{"phase", "error"}, {"error", "model request failed: 529 overloaded"}, {"endedAt", g.ts}})
			return
		}
		g.agent(s, runID, next(), "tool", obj{{"phase", "update"}, {"name", name}, {"toolCallId", id},
			{"partialResult", obj{{"content", []obj{{{"type", "text"}, {"text", fileContents(r, t, 3)}}}}}}})
		g.agent(s, runID, next(), "tool", obj{{"phase", "result"}, {"name", name}, {"toolCallId", id}, {"isError", false},
			{"result", obj{{"content", []obj{{{"type", "text"}, {"text", fileContents(r, t, 12)}}}}, {"details", obj{{"exitCode", 0}, {"durationMs", 40 + t}}}}},
			{"meta", obj{{"password", "pw-" + Secret}}}})
	}
	g.agent(s, runID, next(), "assistant", obj{{"text", acc + text(r, 20)}, {"delta", text(r, 20)}})
	g.agent(s, runID, next(), "lifecycle", obj{{"phase", "end"}, {"endedAt", g.ts}, {"usage", obj{{"input", 1200 + r}, {"output", 310 + r}, {"totalTokens", 1510 + 2*r}}}})
}

func toolArgs(name string, r, t int) obj {
	switch name {
	case "read":
		return obj{{"path", fmt.Sprintf("/srv/app/config/%d.env", r)}}
	case "exec":
		return obj{{"command", "curl -H 'Authorization: Bearer " + Secret + "' https://ci.example/api/runs"}, {"timeout", 30}}
	case "web_fetch":
		return obj{{"url", fmt.Sprintf("https://docs.example/page/%d", t)}, {"apiKey", "sk-" + Secret}}
	}
	return obj{{"path", "/srv/app/notes.md"}, {"content", "notes: the deploy key is " + Secret}}
}

// fileContents is what a tool returns: lines of a file with a secret.
func fileContents(r, t, lines int) string {
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "%d: %s\n", i+1, text(r+t+i, 9))
	}
	fmt.Fprintf(&b, "DB_PASSWORD=%s-%d\n", Secret, r)
	return b.String()
}
