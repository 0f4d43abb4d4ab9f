package checkpoint

import (
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/schema"
)

// AppendLine appends the line arxi-bundle checkpoints writes for one
// signed seal (SPEC §11.2), with its newline:
// {"note":"<note>","record":"checkpoint","segment_id":"…"}, canonical JSON.
func AppendLine(dst, note []byte, segment scalar.UUID) []byte {
	dst = append(dst, `{"note":`...)
	dst = canonical.AppendString(dst, string(note))
	dst = append(dst, `,"record":"checkpoint","segment_id":"`...)
	dst = segment.Append(dst)
	return append(dst, "\"}\n"...)
}

// LineSchema is the shape of AppendLine's lines, for the contract
// (docs/generated/schemas).
var LineSchema = schema.Obj(
	schema.Req("note", schema.Str(`^arxi\.dev/segment/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n[0-9]+\n[A-Za-z0-9+/]{43}=\ngenesis sha256:[0-9a-f]{64}\nhead sha256:[0-9a-f]{64}\nsealed [^ \n]+ [a-z_]+\n\n(— arxi-[0-9a-f]{16} [A-Za-z0-9+/]{91}=\n)*$`, 0, 0).
		Doc("the seal's checkpoint, a blank line, and one signature line per signature whose key is known, as a C2SP signed note")),
	schema.Req("record", schema.Const("checkpoint")),
	schema.Req("segment_id", schema.UUID()),
).Named("checkpoint", "Checkpoint", "One signed seal of a bundle as a C2SP signed note: arxi-bundle checkpoints (SPEC §11.2).")

// Schemas are the records this package writes.
func Schemas() []*schema.Schema { return []*schema.Schema{LineSchema} }
