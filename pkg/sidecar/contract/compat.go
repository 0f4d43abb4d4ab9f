package contract

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Compatibility within v1 is additive only (SIDECAR.md §5). Compat
// compares the OpenAPI document and the error registry of a release (the
// baseline) with the current ones and lists every change that could
// break a client:
//
//   - a route (path and method) removed, or its operationId changed;
//   - a parameter removed, its place or type changed, or a new one
//     required;
//   - a request or response media type removed; a response status
//     removed, or a problem code removed from a status;
//   - a component schema removed; in a schema, a key removed, its type,
//     const, pattern, format or reference changed, a value removed from
//     its enum, an optional key made required or a required one optional,
//     a bound tightened; a new required key in a schema a request uses;
//   - a registered error code removed, or its exit or HTTP status changed;
//   - a mutating route (x-arxi-mutating) without an Idempotency-Key
//     parameter, in the current document.
//
// New routes, statuses, codes, media types, optional keys, enum values and
// schemas pass.
func Compat(baseOpenAPI, curOpenAPI, baseErrors, curErrors []byte) ([]string, error) {
	c, err := compareDocs(baseOpenAPI, curOpenAPI, requestSchemas)
	if err != nil {
		return nil, err
	}
	if err := c.errors(baseErrors, curErrors); err != nil {
		return nil, err
	}
	return c.problems, nil
}

// CompatControlPlane compares the control-plane API of a release
// (control-plane.openapi.json) with the current one by the same rules,
// with the roles the other way round: the sidecar sends the requests and
// the control plane the answers, so a new required key breaks in an
// answer (a control plane of the release does not send it), and a new
// key in a request is an addition.
func CompatControlPlane(base, cur []byte) ([]string, error) {
	c, err := compareDocs(base, cur, answerSchemas)
	if err != nil {
		return nil, err
	}
	return c.problems, nil
}

// compareDocs compares two OpenAPI documents; peer names the component
// schemas of what the other party writes, where a new required key
// breaks.
func compareDocs(baseDoc, curDoc []byte, peer func(map[string]any) map[string]bool) (*compat, error) {
	var base, cur map[string]any
	if err := json.Unmarshal(baseDoc, &base); err != nil {
		return nil, fmt.Errorf("baseline openapi: %w", err)
	}
	if err := json.Unmarshal(curDoc, &cur); err != nil {
		return nil, fmt.Errorf("current openapi: %w", err)
	}
	c := &compat{requests: peer(cur)}
	c.paths(obj(base["paths"]), obj(cur["paths"]))
	c.mutating(obj(cur["paths"]))
	bs, cs := obj(obj(base["components"])["schemas"]), obj(obj(cur["components"])["schemas"])
	for _, name := range keys(bs) {
		s, ok := cs[name]
		if !ok {
			c.fail("components.schemas.%s: removed", name)
			continue
		}
		c.request = c.requests[name]
		c.schema("components.schemas."+name, obj(bs[name]), obj(s))
	}
	return c, nil
}

type compat struct {
	problems []string
	// requests names the component schemas the other party writes (a
	// client's request bodies and parameters); request is set while one of
	// them is compared, where a new required key breaks it (in what the
	// contract's own side writes it is an addition).
	requests map[string]bool
	request  bool
}

// requestSchemas names the component schemas a request uses, directly or
// through other components.
func requestSchemas(doc map[string]any) map[string]bool {
	seen := used(doc, "requestBody", "parameters")
	for name := range obj(obj(doc["components"])["parameters"]) {
		walkRefs(doc, seen, obj(obj(doc["components"])["parameters"])[name])
	}
	return seen
}

// answerSchemas names the component schemas an answer uses.
func answerSchemas(doc map[string]any) map[string]bool { return used(doc, "responses") }

// used names the component schemas the members of every operation use,
// directly or through other components.
func used(doc map[string]any, members ...string) map[string]bool {
	seen := map[string]bool{}
	for _, item := range obj(doc["paths"]) {
		for _, op := range obj(item) {
			for _, m := range members {
				walkRefs(doc, seen, obj(op)[m])
			}
		}
	}
	return seen
}

// walkRefs adds to seen the component schemas v refers to, and theirs.
func walkRefs(doc map[string]any, seen map[string]bool, v any) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/schemas/") {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if !seen[name] {
				seen[name] = true
				walkRefs(doc, seen, obj(obj(doc["components"])["schemas"])[name])
			}
		}
		for _, e := range x {
			walkRefs(doc, seen, e)
		}
	case []any:
		for _, e := range x {
			walkRefs(doc, seen, e)
		}
	}
}

func (c *compat) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func keys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (c *compat) paths(base, cur map[string]any) {
	for _, p := range keys(base) {
		bi, ci := obj(base[p]), obj(cur[p])
		for _, m := range methods {
			bo, ok := bi[m]
			if !ok {
				continue
			}
			where := strings.ToUpper(m) + " " + p
			co, ok := ci[m]
			if !ok {
				c.fail("%s: route removed", where)
				continue
			}
			c.operation(where, obj(bo), obj(co))
		}
	}
}

func (c *compat) operation(where string, base, cur map[string]any) {
	if base["operationId"] != cur["operationId"] {
		c.fail("%s: operationId %v changed to %v", where, base["operationId"], cur["operationId"])
	}
	bp, cp := params(base), params(cur)
	for _, k := range keys(bp) {
		b, cc := obj(bp[k]), obj(cp[k])
		if cc == nil {
			c.fail("%s: parameter %s removed", where, k)
			continue
		}
		if b["required"] != cc["required"] && cc["required"] == true {
			c.fail("%s: parameter %s became required", where, k)
		}
		c.schema(where+" parameter "+k, obj(b["schema"]), obj(cc["schema"]))
	}
	for _, k := range keys(cp) {
		if _, ok := bp[k]; !ok && obj(cp[k])["required"] == true {
			c.fail("%s: new required parameter %s", where, k)
		}
	}
	c.content(where+" request", obj(obj(base["requestBody"])["content"]), obj(obj(cur["requestBody"])["content"]))
	br, cr := obj(base["responses"]), obj(cur["responses"])
	for _, st := range keys(br) {
		b, cc := obj(br[st]), obj(cr[st])
		if cc == nil {
			c.fail("%s: response %s removed", where, st)
			continue
		}
		for _, code := range strs(b[ExtCodes]) {
			if !slices.Contains(strs(cc[ExtCodes]), code) {
				c.fail("%s: response %s no longer carries code %s", where, st, code)
			}
		}
		c.content(where+" response "+st, obj(b["content"]), obj(cc["content"]))
		for _, h := range keys(obj(b["headers"])) {
			if _, ok := obj(cc["headers"])[h]; !ok {
				c.fail("%s: response %s header %s removed", where, st, h)
			}
		}
	}
}

// params indexes an operation's parameters by "in:name" (a $ref to a
// component parameter by its name, which is the header's).
func params(op map[string]any) map[string]any {
	out := map[string]any{}
	list, _ := op["parameters"].([]any)
	for _, p := range list {
		m := obj(p)
		if ref, ok := m["$ref"].(string); ok {
			out["header:"+ref[strings.LastIndexByte(ref, '/')+1:]] = map[string]any{"schema": map[string]any{"$ref": ref}}
			continue
		}
		out[fmt.Sprint(m["in"])+":"+fmt.Sprint(m["name"])] = m
	}
	return out
}

func (c *compat) content(where string, base, cur map[string]any) {
	for _, mt := range keys(base) {
		cc, ok := cur[mt]
		if !ok {
			c.fail("%s: media type %s removed", where, mt)
			continue
		}
		b := obj(base[mt])
		c.schema(where+" "+mt, obj(b["schema"]), obj(obj(cc)["schema"]))
		if l, ok := b[ExtLine]; ok {
			c.schema(where+" "+mt+" line", obj(l), obj(obj(cc)[ExtLine]))
		}
	}
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// schema compares two schemas: what a client of the baseline relies on
// must still hold.
func (c *compat) schema(where string, base, cur map[string]any) {
	if base == nil {
		return
	}
	if cur == nil {
		c.fail("%s: schema removed", where)
		return
	}
	for _, k := range []string{"$ref", "type", "const", "pattern", "format"} {
		if !reflect.DeepEqual(base[k], cur[k]) {
			c.fail("%s: %s %v changed to %v", where, k, show(base[k]), show(cur[k]))
		}
	}
	if be, ok := base["enum"].([]any); ok {
		ce, _ := cur["enum"].([]any)
		for _, v := range be {
			if !slices.ContainsFunc(ce, func(x any) bool { return reflect.DeepEqual(x, v) }) {
				c.fail("%s: enum value %v removed", where, show(v))
			}
		}
	} else if _, ok := cur["enum"]; ok {
		c.fail("%s: an enum now restricts the value", where)
	}
	c.bound(where, "minimum", base, cur, false)
	c.bound(where, "maximum", base, cur, true)
	c.bound(where, "minLength", base, cur, false)
	c.bound(where, "maxLength", base, cur, true)
	c.bound(where, "minItems", base, cur, false)
	c.bound(where, "maxItems", base, cur, true)
	if base["additionalProperties"] != cur["additionalProperties"] {
		c.fail("%s: additionalProperties %v changed to %v", where, show(base["additionalProperties"]), show(cur["additionalProperties"]))
	}
	bp, cp := obj(base["properties"]), obj(cur["properties"])
	breq, creq := strs(base["required"]), strs(cur["required"])
	for _, k := range keys(bp) {
		cv, ok := cp[k]
		if !ok {
			c.fail("%s: key %s removed", where, k)
			continue
		}
		if slices.Contains(breq, k) != slices.Contains(creq, k) {
			c.fail("%s: key %s changed from required %v", where, k, slices.Contains(breq, k))
		}
		c.schema(where+"."+k, obj(bp[k]), obj(cv))
	}
	for _, k := range creq {
		if _, ok := bp[k]; !ok && c.request {
			c.fail("%s: new key %s is required in a request", where, k)
		}
	}
	c.schema(where+"[]", obj(base["items"]), obj(cur["items"]))
	for _, comb := range []string{"oneOf", "allOf", "anyOf"} {
		bl, _ := base[comb].([]any)
		cl, _ := cur[comb].([]any)
		if len(bl) != len(cl) && !(comb == "oneOf" && len(cl) > len(bl)) {
			c.fail("%s: %s of %d changed to %d", where, comb, len(bl), len(cl))
			continue
		}
		for i := range bl {
			c.schema(fmt.Sprintf("%s.%s[%d]", where, comb, i), obj(bl[i]), obj(cl[i]))
		}
	}
}

// bound fails when a numeric bound is tighter (or new): a larger minimum,
// a smaller maximum.
func (c *compat) bound(where, key string, base, cur map[string]any, upper bool) {
	b, bok := base[key].(float64)
	v, cok := cur[key].(float64)
	switch {
	case !cok:
	case !bok:
		c.fail("%s: new %s %v", where, key, v)
	case upper && v < b, !upper && v > b:
		c.fail("%s: %s %v tightened to %v", where, key, b, v)
	}
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// mutating fails on a mutating operation without Idempotency-Key.
func (c *compat) mutating(paths map[string]any) {
	for _, p := range keys(paths) {
		for _, m := range methods {
			op := obj(obj(paths[p])[m])
			if op == nil || op[ExtMutating] != true {
				continue
			}
			if _, ok := params(op)["header:Idempotency-Key"]; !ok {
				c.fail("%s %s: a mutating route without an Idempotency-Key parameter", strings.ToUpper(m), p)
			}
		}
	}
}

func (c *compat) errors(base, cur []byte) error {
	type entry struct {
		Code       string `json:"code"`
		ExitStatus int    `json:"exit_status"`
		HTTPStatus int    `json:"http_status"`
	}
	var b, cc struct {
		Codes []entry `json:"codes"`
	}
	if err := json.Unmarshal(base, &b); err != nil {
		return fmt.Errorf("baseline errors: %w", err)
	}
	if err := json.Unmarshal(cur, &cc); err != nil {
		return fmt.Errorf("current errors: %w", err)
	}
	now := map[string]entry{}
	for _, e := range cc.Codes {
		now[e.Code] = e
	}
	for _, e := range b.Codes {
		n, ok := now[e.Code]
		switch {
		case !ok:
			c.fail("errors: code %s removed", e.Code)
		case n.ExitStatus != e.ExitStatus:
			c.fail("errors: code %s exit status %d changed to %d", e.Code, e.ExitStatus, n.ExitStatus)
		case n.HTTPStatus != e.HTTPStatus:
			c.fail("errors: code %s HTTP status %d changed to %d", e.Code, e.HTTPStatus, n.HTTPStatus)
		}
	}
	return nil
}
