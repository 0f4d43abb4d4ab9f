//go:build !race

package main

const kills = 6
