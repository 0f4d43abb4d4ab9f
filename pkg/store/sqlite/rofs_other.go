//go:build !linux

package sqlite

func readOnlyFS(dir string) bool { return false }
