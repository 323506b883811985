// Package apitransport builds the HTTP transport the controller talks to
// the API server through, so that a connection that goes silent without a
// reset (an API server or load balancer gone, the socket still open) is
// noticed within a bound, on HTTP/2 and HTTP/1.1 alike.
//
// Hand-written because client-go has no per-client setting for it: its
// HTTP/2 health check is tuned only through process-wide environment
// variables (a ping after 30s without a frame, 15s to answer), and nothing
// checks an HTTP/1.1 connection, where a watch on a dead one waits forever.
package apitransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Options choose the transport.
type Options struct {
	// HTTP2 speaks HTTP/2 (one connection, health-checked by pings);
	// otherwise HTTP/1.1 (a connection per watch and per request in flight).
	HTTP2 bool
	// DeadAfter bounds how long a silent connection goes unnoticed; > 0.
	DeadAfter time.Duration
}

// Configure sets cfg up to use the transport o describes. It moves cfg's
// TLS settings into that transport (client-go refuses a custom transport
// beside TLS options); authentication stays with client-go's wrappers.
func Configure(cfg *rest.Config, o Options) error {
	if o.DeadAfter <= 0 {
		return errors.New("DeadAfter must be > 0")
	}
	if cfg.Transport != nil || cfg.WrapTransport != nil {
		return errors.New("a custom transport is configured already")
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return fmt.Errorf("building the TLS configuration: %w", err)
	}
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 25, // as client-go's default transport
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  cfg.DisableCompression,
		Protocols:           new(http.Protocols),
	}
	if cfg.Proxy != nil {
		t.Proxy = cfg.Proxy
	}
	t.DialContext = cfg.Dial
	if t.DialContext == nil {
		// TCP keepalives catch a peer that stopped acknowledging (a
		// node gone); they cannot catch a proxy that still does, which
		// is what the checks below are for.
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3,
		}}
		t.DialContext = d.DialContext
	}
	t.Protocols.SetHTTP1(true)
	if o.HTTP2 {
		// A ping after half the bound without a frame, and half the
		// bound for its answer: every stream of a dead connection fails
		// within the bound, and the informers watch again on a new one.
		t.Protocols.SetHTTP2(true)
		t.HTTP2 = &http.HTTP2Config{SendPingTimeout: o.DeadAfter / 2, PingTimeout: o.DeadAfter / 2}
		cfg.Transport = t
	} else {
		// Every request gets its response headers quickly, a watch's
		// as soon as it starts (the API server's own timeout is a minute,
		// for the body); a connection that gives none within the bound
		// is taken for dead.
		t.ResponseHeaderTimeout = o.DeadAfter
		cfg.Transport = &http1Guard{base: t, deadAfter: o.DeadAfter, minWindow: minWatchWindow, clock: clock.RealClock{}}
	}
	cfg.TLSClientConfig = rest.TLSClientConfig{}
	cfg.Dial, cfg.Proxy = nil, nil
	return nil
}

// Watch windows on HTTP/1.1: the API server is asked to end every watch
// after a random time in [minWatchWindow, 2×minWatchWindow), and once that
// time and DeadAfter have passed, the client ends a watch that has been
// quiet for DeadAfter itself, as if the server had. The informers then
// watch again from the last resource version they saw, so nothing is
// missed. A watch list keeps the server's timeout, since its initial events
// may take long to stream; once they are in and the watch is quiet, it is
// ended the same way and followed by a plain watch.
const minWatchWindow = 5 * time.Second

// http1Guard bounds every HTTP/1.1 request: response headers within
// DeadAfter, watches by their window. When one misses its bound, the idle
// connections are closed too, since whatever silenced that one connection
// has likely silenced the pooled ones opened before it.
type http1Guard struct {
	base                 *http.Transport
	deadAfter, minWindow time.Duration
	clock                clock.WithDelayedExecution
}

func (g *http1Guard) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if w := q.Get("watch"); w != "true" && w != "1" {
		resp, err := g.base.RoundTrip(req)
		if isTimeout(err) {
			g.base.CloseIdleConnections()
		}
		return resp, err
	}
	return g.watch(req, q)
}

// watch sends req, a watch whose query is q, within its window.
func (g *http1Guard) watch(req *http.Request, q url.Values) (*http.Response, error) {
	window := g.minWindow + rand.N(g.minWindow)
	if q.Get("sendInitialEvents") != "true" {
		seconds := max(1, int(window/time.Second))
		if asked, _ := strconv.Atoi(q.Get("timeoutSeconds")); asked > 0 && asked < seconds {
			seconds = asked
		}
		window = time.Duration(seconds) * time.Second
		q.Set("timeoutSeconds", strconv.Itoa(seconds))
	}
	ctx, cancel := context.WithCancel(req.Context())
	req = req.Clone(ctx)
	req.URL.RawQuery = q.Encode()
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		cancel()
		if isTimeout(err) {
			g.base.CloseIdleConnections()
		}
		return nil, err
	}
	b := &watchBody{ReadCloser: resp.Body, cancel: cancel, clock: g.clock, quietFor: g.deadAfter, onEnd: g.base.CloseIdleConnections}
	b.lastRead.Store(g.clock.Now().UnixNano())
	b.check = g.clock.AfterFunc(window+g.deadAfter, b.checkLater)
	resp.Body = b
	return resp, nil
}

// CloseIdleConnections lets client-go close idle connections.
func (g *http1Guard) CloseIdleConnections() { g.base.CloseIdleConnections() }

// watchBody is a watch's response body, which endIfQuiet ends once it has
// been quiet for quietFor: reads then return io.EOF, as for a watch the
// server ended.
type watchBody struct {
	io.ReadCloser
	cancel   context.CancelFunc
	clock    clock.WithDelayedExecution
	quietFor time.Duration
	onEnd    func()

	lastRead atomic.Int64 // UnixNano
	ended    atomic.Bool
	mu       sync.Mutex // guards check
	check    clock.Timer
}

func (b *watchBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.lastRead.Store(b.clock.Now().UnixNano())
	}
	if err != nil && b.ended.Load() {
		err = io.EOF
	}
	return n, err
}

// checkLater runs endIfQuiet on a goroutine of its own: a fake clock calls
// timer funcs holding its lock, which endIfQuiet takes again.
func (b *watchBody) checkLater() { go b.endIfQuiet() }

// endIfQuiet ends the watch if nothing came for quietFor, or checks again
// when that much time will have passed since the last read.
func (b *watchBody) endIfQuiet() {
	quiet := b.clock.Since(time.Unix(0, b.lastRead.Load()))
	if quiet < b.quietFor {
		b.mu.Lock()
		b.check = b.clock.AfterFunc(b.quietFor-quiet, b.checkLater)
		b.mu.Unlock()
		return
	}
	b.ended.Store(true)
	b.cancel()
	b.onEnd()
}

func (b *watchBody) Close() error {
	b.mu.Lock()
	b.check.Stop()
	b.mu.Unlock()
	b.cancel()
	return b.ReadCloser.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && (errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()))
}
