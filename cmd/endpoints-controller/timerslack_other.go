//go:build !linux

package main

import "time"

// applyTimerSlack is Linux-only (prctl PR_SET_TIMERSLACK).
func applyTimerSlack(time.Duration) {}
