package chaos

import (
	"net"
	"sync"
	"sync/atomic"
)

// silencingProxy passes TCP through to the API server untouched (TLS and
// all). silence makes every connection open at that moment go quiet in
// both directions without closing it, as when a load balancer or an API
// server node dies without a reset: bytes sent are accepted and dropped,
// nothing comes back, and no FIN or RST is ever passed on. Connections
// opened afterwards flow.
type silencingProxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu    sync.Mutex
	conns []*proxiedConn
	wg    sync.WaitGroup
}

type proxiedConn struct {
	client, server net.Conn
	silenced       atomic.Bool
}

func startSilencingProxy(target string) (*silencingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &silencingProxy{Addr: ln.Addr().String(), target: target, ln: ln}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *silencingProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxiedConn{client: client, server: server}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Go(func() { c.pipe(server, client) })
		p.wg.Go(func() { c.pipe(client, server) })
	}
}

// pipe copies from src to dst until src ends, then ends dst, unless the
// connection is silenced: then bytes are dropped and ends are not passed
// on.
func (c *proxiedConn) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.silenced.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil && !c.silenced.Load() {
				c.close()
				return
			}
		}
		if err != nil {
			if !c.silenced.Load() {
				c.close()
			}
			return
		}
	}
}

func (c *proxiedConn) close() {
	c.client.Close()
	c.server.Close()
}

// silence silences every connection open now and returns how many.
func (p *silencingProxy) silence() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.silenced.Store(true)
	}
	return len(p.conns)
}

// Close stops accepting and closes every connection, silenced or not.
func (p *silencingProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
