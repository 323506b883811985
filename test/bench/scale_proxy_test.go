package bench

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"
)

// countingProxy sits on 127.0.0.1 between one controller and the API
// server and counts its requests by verb and the response bytes they
// received: the same measure for the built-in and ours, which the API
// server's own metrics cannot give (they do not say who asked). Response
// bodies are counted as sent (gzip when the client asked for it), before
// TLS.
type countingProxy struct {
	srv  *httptest.Server
	info *request.RequestInfoFactory

	mu     sync.Mutex
	counts map[string]*verbCount // by the API server's verb: list, watch, get, create...
}

type verbCount struct {
	requests int
	bytes    int64
}

// apiCounts is a copy of the counts at one moment.
type apiCounts map[string]verbCount

func (c apiCounts) requests(verb string) int { return c[verb].requests }
func (c apiCounts) bytes(verbs ...string) int64 {
	var n int64
	for _, v := range verbs {
		n += c[v].bytes
	}
	return n
}

// startCountingProxy serves HTTPS (HTTP/2 too) with the API server's own
// certificate (valid for any 127.0.0.1 port), forwarding with the admin
// credentials: the controllers run as admin in the bench anyway.
func startCountingProxy(apiURL string, cfg *rest.Config, pkiDir string) (*countingProxy, error) {
	target, err := url.Parse(apiURL)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "apiserver.crt"), filepath.Join(pkiDir, "apiserver.key"))
	if err != nil {
		return nil, err
	}
	p := &countingProxy{
		info:   &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")},
		counts: map[string]*verbCount{},
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = transport
	rp.FlushInterval = -1 // watches stream
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		verb := "other"
		if ri, err := p.info.NewRequestInfo(r); err == nil && ri.Verb != "" {
			verb = ri.Verb
		}
		cw := &countingWriter{ResponseWriter: w}
		p.mu.Lock()
		c := p.counts[verb]
		if c == nil {
			c = &verbCount{}
			p.counts[verb] = c
		}
		c.requests++
		p.mu.Unlock()
		cw.add = func(n int) {
			p.mu.Lock()
			c.bytes += int64(n)
			p.mu.Unlock()
		}
		rp.ServeHTTP(cw, r)
	}))
	p.srv.EnableHTTP2 = true
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	p.srv.StartTLS()
	return p, nil
}

// URL is where to point a kubeconfig.
func (p *countingProxy) URL() string { return p.srv.URL }

// take returns the counts since the last take and starts over.
func (p *countingProxy) take() apiCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := apiCounts{}
	for v, c := range p.counts {
		out[v] = *c
		*c = verbCount{} // open watches keep adding to the same counter
	}
	return out
}

func (p *countingProxy) close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
}

// countingWriter counts the body bytes written; Unwrap lets the reverse
// proxy flush a watch through it.
type countingWriter struct {
	http.ResponseWriter
	add func(int)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.add(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
