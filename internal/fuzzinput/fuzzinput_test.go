package fuzzinput

import "testing"

func TestEdit(t *testing.T) {
	bases := [][]byte{[]byte("abcdef"), []byte("")}
	for _, tc := range []struct {
		base  uint8
		at    uint16
		cut   uint8
		patch string
		want  string
	}{
		{0, 0, 0, "", "abcdef"},
		{0, 2, 0, "XY", "abXYcdef"},
		{0, 2, 2, "XY", "abXYef"},
		{0, 2, 200, "", "ab"},
		{0, 7 + 3, 1, "", "abcef"}, // 10 mod 7
		{0, 6, 3, "Z", "abcdefZ"},
		{1, 5, 5, "Z", "Z"},
		{2, 0, 0, "raw", "raw"},
		{Raw, 1, 1, "raw", "raw"},
	} {
		if got := string(Edit(bases, tc.base, tc.at, tc.cut, []byte(tc.patch))); got != tc.want {
			t.Errorf("Edit(%d, %d, %d, %q) = %q, want %q", tc.base, tc.at, tc.cut, tc.patch, got, tc.want)
		}
	}
	if string(bases[0]) != "abcdef" {
		t.Errorf("the fixture changed: %q", bases[0])
	}
}
