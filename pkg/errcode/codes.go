package errcode

// Codes lists every registered code in code order (the problem and verdict
// schemas of the contract enumerate them).
func Codes() []Code {
	codes := make([]Code, len(Registry))
	for i, info := range Registry {
		codes[i] = info.Code
	}
	return codes
}
