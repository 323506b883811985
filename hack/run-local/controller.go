package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// controller is our endpoints-controller as the demo runs it.
type controller struct {
	*framework.Controller
	metricsAddr, healthAddr string
}

// startController runs our controller as in production (leader election
// on, Lease in kube-system, HTTPS with delegated authorization on
// loopback), and for the demo's convenience also plain HTTP on the usual
// 8080/8081 when those are free on loopback, else on free ports; it waits
// until the caches synced.
func startController(cluster *framework.Cluster) (*controller, error) {
	secure, metrics, health := loopback(10267), loopback(8080), loopback(8081)
	_, securePort, _ := net.SplitHostPort(secure)
	say("==> starting endpoints-controller (HTTPS %s; plain HTTP: metrics %s, probes %s)", secure, metrics, health)
	ctrl, err := cluster.StartController(
		"--leader-elect=true",
		"--leader-elect-resource-namespace=kube-system",
		"--bind-address=127.0.0.1",
		"--secure-port="+securePort,
		"--metrics-bind-address="+metrics,
		"--health-probe-bind-address="+health,
	)
	if err != nil {
		return nil, err
	}
	c := &controller{Controller: ctrl, metricsAddr: metrics, healthAddr: health}
	if err := c.waitHTTP("http://"+health+"/readyz", 60*time.Second); err != nil {
		return nil, fmt.Errorf("endpoints-controller not ready: %w\n%s", err, ctrl.LogTail(20))
	}
	say("    ready (informer caches synced); log: %s", ctrl.LogPath)
	say("    curl -s http://%s/metrics | grep ^endpoints_controller_", metrics)
	// The admin client certificate is in system:masters, which needs no
	// SubjectAccessReview; in a cluster, Prometheus uses a token allowed by
	// ClusterRole endpoints-controller-metrics-reader.
	pki := filepath.Join(cluster.Dir, "pki")
	say("    as in a cluster, over HTTPS with a client certificate (or a token):")
	say("      curl -sk --cert %s --key %s https://%s/metrics", filepath.Join(pki, "admin.crt"), filepath.Join(pki, "admin.key"), secure)
	return c, nil
}

// loopback is 127.0.0.1:port if free, else a free port.
func loopback(port int) string {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if framework.PortFree(addr) {
		return addr
	}
	if p, err := framework.FreePort(); err == nil {
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	return addr // let the controller report the clash
}

// waitLeader waits until the controller holds the Lease.
func (c *controller) waitLeader(ctx context.Context) error {
	for {
		body, err := c.get("http://" + c.metricsAddr + "/metrics")
		if err == nil && strings.Contains(body, "\nendpoints_controller_leader 1\n") {
			say("    leader: holds Lease kube-system/endpoints-controller (endpoints_controller_leader 1)")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return fmt.Errorf("endpoints-controller exited (code %d)\n%s", c.ExitCode(), c.LogTail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *controller) waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.get(url)
		if err == nil {
			return nil
		}
		if c.Exited() {
			return fmt.Errorf("exited with code %d", c.ExitCode())
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get returns the body of a 200 answer; the port must really be ours,
// which the "Serving" line of the log proves.
func (c *controller) get(url string) (string, error) {
	host := strings.Split(strings.TrimPrefix(url, "http://"), "/")[0]
	if _, _, err := net.SplitHostPort(host); err != nil || !strings.Contains(c.LogTail(50), `address="`+host+`"`) {
		return "", fmt.Errorf("%s not served yet", host)
	}
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), err
}

var httpClient = &http.Client{Timeout: 5 * time.Second}
