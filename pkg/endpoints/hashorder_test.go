package endpoints

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	utildump "k8s.io/utils/dump"
	"k8s.io/utils/ptr"
)

// TestBuiltinOrder checks Repack's order against orders printed by the
// built-in's RepackSubsets (k8s.io/kubernetes v1.37.2, run once by hand on
// the same inputs): ports and subsets follow hashes, not names.
func TestBuiltinOrder(t *testing.T) {
	p := func(name string, port int32, proto v1.Protocol, app string) v1.EndpointPort {
		e := ep(name, port, proto)
		if app != "" {
			e.AppProtocol = ptr.To(app)
		}
		return e
	}
	all := eports{
		p("http", 8080, TCP, "http"),
		p("https", 8443, TCP, "kubernetes.io/h2c"),
		p("dns", 53, UDP, ""),
		p("dns-tcp", 53, TCP, ""),
		p("sctp", 9000, SCTP, ""),
		p("metrics", 9090, TCP, ""),
		p("grpc", 9090, UDP, "grpc"),
	}
	a, b, c, d := podAddr("a", "10.0.0.1"), podAddr("b", "10.0.0.2"), podAddr("c", "10.0.0.3"), podAddr("d", "10.0.0.4")
	for _, tc := range []struct {
		name string
		in   subsets
		want string
	}{
		{"one subset, multi-port, mixed protocols and appProtocols",
			subsets{{Addresses: addrs{b, a}, Ports: all}},
			"sctp/9000/SCTP,metrics/9090/TCP,http/8080/TCP,grpc/9090/UDP,dns-tcp/53/TCP,dns/53/UDP,https/8443/TCP a,b\n"},
		{"several subsets",
			subsets{
				{Addresses: addrs{a, b}, NotReadyAddresses: addrs{d}, Ports: all[:4]},
				{Addresses: addrs{c}, Ports: all[2:]},
				{Addresses: addrs{a}, Ports: all[5:]},
			},
			"dns-tcp/53/TCP,dns/53/UDP a,b,c,!d\n" +
				"metrics/9090/TCP,grpc/9090/UDP a,c\n" +
				"sctp/9000/SCTP c\n" +
				"http/8080/TCP,https/8443/TCP a,b,!d\n"},
		{"port-less subset",
			subsets{{Addresses: addrs{a}}, {Addresses: addrs{b}, Ports: all[:1]}},
			"http/8080/TCP b\n" +
				" a\n"},
		{"same port with and without appProtocol",
			subsets{{Addresses: addrs{a}, Ports: eports{p("web", 80, TCP, "http")}}, {Addresses: addrs{b}, Ports: eports{p("web", 80, TCP, "")}}},
			"web/80/TCP b\n" +
				"web/80/TCP a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := orderStr(checkRepack(t, tc.in, 10)); got != tc.want {
				t.Errorf("got:\n%swant (built-in):\n%s", got, tc.want)
			}
		})
	}
}

// orderStr renders the order of ports and addresses (pod names, "!" for
// not ready), one subset a line.
func orderStr(ss []v1.EndpointSubset) string {
	var b strings.Builder
	for _, s := range ss {
		var ps, as []string
		for _, x := range s.Ports {
			ps = append(ps, fmt.Sprintf("%s/%d/%s", x.Name, x.Port, x.Protocol))
		}
		for _, a := range s.Addresses {
			as = append(as, a.TargetRef.Name)
		}
		for _, a := range s.NotReadyAddresses {
			as = append(as, "!"+a.TargetRef.Name)
		}
		fmt.Fprintf(&b, "%s %s\n", strings.Join(ps, ","), strings.Join(as, ","))
	}
	return b.String()
}

// TestCompareAddress: the built-in puts an address without targetRef
// before one with an empty UID at the same IP.
func TestCompareAddress(t *testing.T) {
	noRef := v1.EndpointAddress{IP: "10.0.0.1"}
	emptyUID := v1.EndpointAddress{IP: "10.0.0.1", TargetRef: &v1.ObjectReference{}}
	a := podAddr("a", "10.0.0.1")
	for _, tc := range []struct {
		x, y v1.EndpointAddress
		want int
	}{
		{noRef, emptyUID, -1}, {emptyUID, noRef, 1}, {noRef, noRef, 0},
		{emptyUID, a, -1}, {a, noRef, 1}, {podAddr("z", "10.0.0.0"), noRef, -1},
	} {
		if got := compareAddress(tc.x, tc.y); got != tc.want {
			t.Errorf("compareAddress(%s, %s) = %d, want %d", addrStr(tc.x), addrStr(tc.y), got, tc.want)
		}
	}
}

// TestForHash holds the text hashed for ordering equal to the built-in's,
// dump.ForHash (spew), over random values: every field set or not, nil and
// empty lists and pointers, odd strings. A field added to these API types
// shows in spew's text and fails this test.
func TestForHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		return []string{"", "a", "10.0.0.1", "h \"x\"\n", "<nil>", "ü\xff", "} {", "(*string)"}[r.IntN(8)]
	}
	strPtr := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		return ptr.To(str())
	}
	port := func() v1.EndpointPort {
		return v1.EndpointPort{Name: str(), Port: r.Int32N(70000) - 100, Protocol: v1.Protocol(str()), AppProtocol: strPtr()}
	}
	list := func() int { return r.IntN(4) - 1 } // -1: nil
	addresses := func() []v1.EndpointAddress {
		n := list()
		if n < 0 {
			return nil
		}
		out := make([]v1.EndpointAddress, n)
		for i := range out {
			out[i] = v1.EndpointAddress{IP: str(), Hostname: str(), NodeName: strPtr()}
			if r.IntN(3) > 0 {
				out[i].TargetRef = &v1.ObjectReference{Kind: str(), Namespace: str(), Name: str(),
					UID: types.UID(str()), APIVersion: str(), ResourceVersion: str(), FieldPath: str()}
			}
		}
		return out
	}
	for range 2000 {
		s := v1.EndpointSubset{Addresses: addresses(), NotReadyAddresses: addresses()}
		if n := list(); n >= 0 {
			s.Ports = make([]v1.EndpointPort, n)
			for i := range s.Ports {
				s.Ports[i] = port()
			}
		}
		text := &hashText{b: []byte("(v1.EndpointSubset)")}
		text.subset(&s)
		if got, want := string(text.b), utildump.ForHash(s); got != want {
			t.Fatalf("subset:\ngot  %q\nwant %q", got, want)
		}
		p := port()
		if got, want := string(appendPort([]byte("(v1.EndpointPort)"), &p)), utildump.ForHash(p); got != want {
			t.Fatalf("port:\ngot  %q\nwant %q", got, want)
		}
	}
}
