package controller

import (
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// shadowState tracks, in shadow mode, the Services whose live Endpoints
// differ from what this controller would write.
type shadowState struct {
	mu         sync.Mutex
	mismatched map[string]string // key → summary of the difference
}

// shadowCompare records whether the live Endpoints match d, logging and
// counting each new or changed mismatch once.
func (c *Controller) shadowCompare(logger klog.Logger, key string, live *v1.Endpoints, d endpoints.Desired) {
	fields, summary := endpoints.Diff(live, d)
	s := &c.shadow
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, was := s.mismatched[key]
	switch {
	case len(fields) == 0 && was:
		delete(s.mismatched, key)
		logger.Info("Shadow: live Endpoints match again", "service", key)
	case len(fields) > 0 && (!was || prev != summary):
		s.mismatched[key] = summary
		c.opts.Metrics.ShadowDiffs(fields)
		logger.Info("Shadow: live Endpoints differ from what this controller would write", "service", key, "diff", summary)
	}
	c.opts.Metrics.SetShadowMismatches(len(s.mismatched))
}

// shadowForget drops a Service that no longer gets Endpoints from us.
func (c *Controller) shadowForget(key string) {
	s := &c.shadow
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mismatched[key]; ok {
		delete(s.mismatched, key)
		c.opts.Metrics.SetShadowMismatches(len(s.mismatched))
	}
}
