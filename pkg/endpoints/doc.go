// Package endpoints computes the Endpoints object a Service should have from
// the Pods it selects, with the rules of the built-in endpoints controller of
// Kubernetes. It is pure: no clients, no caches, no clocks, no wire formats
// (package lean decodes pods into the same Pod view NewPod makes).
package endpoints
