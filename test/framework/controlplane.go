// Package framework starts a real etcd and kube-apiserver for integration
// tests, bound to 127.0.0.1 only, and hands out an admin *rest.Config.
package framework

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Service CIDRs of the test cluster: dual-stack, so dual-stack Services work.
const (
	ServiceCIDRv4 = "10.96.0.0/16"
	ServiceCIDRv6 = "fd00:10:96::/112"
)

// dirPrefix names the temp dirs; stale ones of dead test processes are swept.
const dirPrefix = "endpoints-controller-cp-"

// Options tunes StartControlPlane; the zero value is fine.
type Options struct {
	BinDir             string        // default: BinDir()
	ExtraAPIServerArgs []string      // appended last, so they win
	ExtraEtcdArgs      []string      // appended last, so they win
	ReadyTimeout       time.Duration // per readiness wait; default 2m
	KeepDir            bool          // keep Dir on Stop (also env KEEP_CONTROL_PLANE_DIR=1)
}

// ControlPlane is a running etcd + kube-apiserver pair.
type ControlPlane struct {
	Config         *rest.Config // admin (system:masters), QPS 1000 / Burst 2000
	KubeconfigPath string       // same credentials, for kubectl and --kubeconfig
	URL            string       // https://127.0.0.1:<port>
	EtcdURL        string       // http://127.0.0.1:<port>
	Dir            string       // certs, logs (etcd.log, kube-apiserver.log) and etcd data
	BinDir         string       // where etcd, kube-apiserver, kubectl, kwok... live

	etcd, apiserver *process
	readyTimeout    time.Duration
	keepDir         bool
	stopOnce        sync.Once
}

// StartControlPlane starts etcd and kube-apiserver and waits until the
// cluster accepts Services and Pods. Ports are picked free just before use;
// if another process grabs one in between, start-up is retried.
func StartControlPlane(opts Options) (*ControlPlane, error) {
	for attempt := 1; ; attempt++ {
		cp, err := startControlPlane(opts)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return cp, err
		}
	}
}

func startControlPlane(opts Options) (_ *ControlPlane, err error) {
	cp := &ControlPlane{
		BinDir:       opts.BinDir,
		readyTimeout: opts.ReadyTimeout,
		keepDir:      opts.KeepDir || os.Getenv("KEEP_CONTROL_PLANE_DIR") == "1",
	}
	if cp.readyTimeout == 0 {
		cp.readyTimeout = 2 * time.Minute
	}
	if cp.BinDir == "" {
		if cp.BinDir, err = BinDir(); err != nil {
			return nil, err
		}
	}
	if cp.Dir, err = makeDir(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()

	pkiDir := filepath.Join(cp.Dir, "pki")
	if err := os.Mkdir(pkiDir, 0o700); err != nil {
		return nil, err
	}
	certs, err := newPKI([]net.IP{net.ParseIP("10.96.0.1"), net.ParseIP("fd00:10:96::1")})
	if err != nil {
		return nil, fmt.Errorf("generating certificates: %w", err)
	}
	files, err := certs.write(pkiDir)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cp.EtcdURL = clientURL
	cp.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	cp.etcd = &process{
		name: "etcd", path: filepath.Join(cp.BinDir, "etcd"), logPath: filepath.Join(cp.Dir, "etcd.log"),
		args: append([]string{
			"--name=default",
			"--data-dir=" + filepath.Join(cp.Dir, "etcd"),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=default=" + peerURL,
			"--unsafe-no-fsync=true", // data is thrown away; fsync only slows tests
			"--quota-backend-bytes=" + strconv.Itoa(8<<30),
		}, opts.ExtraEtcdArgs...),
	}
	cp.apiserver = &process{
		name: "kube-apiserver", path: filepath.Join(cp.BinDir, "kube-apiserver"),
		logPath: filepath.Join(cp.Dir, "kube-apiserver.log"),
		args: append([]string{
			"--etcd-servers=" + clientURL,
			"--storage-backend=etcd3",
			"--cert-dir=" + pkiDir,
			"--tls-cert-file=" + files["apiserver.crt"],
			"--tls-private-key-file=" + files["apiserver.key"],
			"--client-ca-file=" + files["ca.crt"],
			"--secure-port=" + strconv.Itoa(ports[2]),
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--authorization-mode=Node,RBAC",
			"--service-cluster-ip-range=" + ServiceCIDRv4 + "," + ServiceCIDRv6,
			// The controller under test owns Endpoints; keep the apiserver
			// from writing default/kubernetes endpoints itself.
			"--endpoint-reconciler-type=none",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + files["sa.pub"],
			"--service-account-signing-key-file=" + files["sa.key"],
			"--allow-privileged=true",
			// No token controller runs, so pods must not need a ServiceAccount.
			"--disable-admission-plugins=ServiceAccount",
			"--enable-priority-and-fairness=false",
		}, opts.ExtraAPIServerArgs...),
	}

	if err := cp.writeKubeconfig(certs); err != nil {
		return nil, err
	}
	// Load Config from the kubeconfig, so both are known to be equivalent.
	if cp.Config, err = clientcmd.BuildConfigFromFlags("", cp.KubeconfigPath); err != nil {
		return nil, err
	}
	cp.Config.QPS, cp.Config.Burst = 1000, 2000
	// Every Endpoints call warns that v1 Endpoints is deprecated: say it once.
	cp.Config.WarningHandler = rest.NewWarningWriter(os.Stderr, rest.WarningWriterOptions{Deduplicate: true})

	if err := cp.StartEtcd(); err != nil {
		return nil, err
	}
	if err := cp.StartAPIServer(); err != nil {
		return nil, err
	}
	return cp, nil
}

// Stop stops the processes this ControlPlane started (by PID: SIGTERM, then
// SIGKILL after 10s) and removes Dir. Safe to call more than once.
func (cp *ControlPlane) Stop() {
	cp.stopOnce.Do(func() {
		for _, p := range []*process{cp.apiserver, cp.etcd} {
			if p != nil {
				p.stop()
			}
		}
		if cp.keepDir {
			fmt.Fprintf(os.Stderr, "framework: kept control plane files in %s\n", cp.Dir)
			return
		}
		if err := os.RemoveAll(cp.Dir); err != nil {
			fmt.Fprintf(os.Stderr, "framework: removing %s: %v\n", cp.Dir, err)
		}
	})
}

// StopAPIServer stops kube-apiserver only (for chaos tests).
func (cp *ControlPlane) StopAPIServer() { cp.apiserver.stop() }

// StartAPIServer starts a stopped kube-apiserver on the same port and with
// the same certs, and waits until it is ready.
func (cp *ControlPlane) StartAPIServer() error {
	if err := cp.apiserver.start(); err != nil {
		return err
	}
	return cp.waitAPIServerReady()
}

// RestartAPIServer stops and starts kube-apiserver.
func (cp *ControlPlane) RestartAPIServer() error {
	cp.StopAPIServer()
	return cp.StartAPIServer()
}

// StopEtcd stops etcd only; its data stays.
func (cp *ControlPlane) StopEtcd() { cp.etcd.stop() }

// StartEtcd starts a stopped etcd on the same ports and data dir, and waits
// until it, and kube-apiserver if running, is healthy again.
func (cp *ControlPlane) StartEtcd() error {
	if err := cp.etcd.start(); err != nil {
		return err
	}
	if err := cp.waitEtcdReady(); err != nil || cp.apiserver.exited() {
		return err
	}
	return cp.waitAPIServerReady()
}

// RestartEtcd stops and starts etcd.
func (cp *ControlPlane) RestartEtcd() error {
	cp.StopEtcd()
	return cp.StartEtcd()
}

func (cp *ControlPlane) writeKubeconfig(certs *pki) error {
	const name = "endpoints-controller-test"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: cp.URL, CertificateAuthorityData: certs.caCert}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: certs.adminCert, ClientKeyData: certs.adminKey}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: "admin", Namespace: metav1.NamespaceDefault}
	cfg.CurrentContext = name
	cp.KubeconfigPath = filepath.Join(cp.Dir, "kubeconfig")
	return clientcmd.WriteToFile(*cfg, cp.KubeconfigPath)
}
