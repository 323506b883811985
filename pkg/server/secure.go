package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"
)

// SecureOptions are kube-controller-manager's secure serving, delegated
// authentication and delegated authorization flags, with its names, defaults
// and meaning, as far as this controller serves: /metrics, the probes and
// pprof.
//
// Why not k8s.io/apiserver/pkg/server/options, as kube-controller-manager:
// that package, and the webhook authenticator and authorizer behind it,
// link in gRPC, OpenTelemetry exporters, etcd's client and CEL, which
// doubled this controller's resident memory (38 to 68 MB in make bench's
// small workload, against the built-in's 104 MB). This file and
// delegate.go keep what the library does with its lighter parts (request
// authenticators, token cache, dynamic CA and serving certificates,
// authorizer union, request info) and replace the two webhook clients, a
// TokenReview and a SubjectAccessReview call, and the filter chain.
// Front-proxy request-header authentication is not offered.
type SecureOptions struct {
	BindAddress     net.IP
	BindPort        int // 0: no HTTPS
	CertFile        string
	KeyFile         string
	TLSMinVersion   string
	TLSCipherSuites []string

	AuthenticationKubeconfig string
	SkipLookup               bool
	TolerateLookupFailure    bool
	TokenCacheTTL            time.Duration
	ClientCAFile             string

	AuthorizationKubeconfig string
	AlwaysAllowPaths        []string
	AlwaysAllowGroups       []string
	AllowCacheTTL           time.Duration
	DenyCacheTTL            time.Duration
}

// NewSecureOptions returns kube-controller-manager's defaults on port.
func NewSecureOptions(port int) *SecureOptions {
	return &SecureOptions{
		BindAddress:       net.IPv4zero,
		BindPort:          port,
		TokenCacheTTL:     10 * time.Second,
		AlwaysAllowPaths:  []string{"/healthz", "/readyz", "/livez"},
		AlwaysAllowGroups: []string{"system:masters"},
		AllowCacheTTL:     10 * time.Second,
		DenyCacheTTL:      10 * time.Second,
	}
}

// AddFlags adds the flags to kube-controller-manager's three sections.
func (o *SecureOptions) AddFlags(fss *cliflag.NamedFlagSets) {
	fs := fss.FlagSet("secure serving")
	fs.IPVar(&o.BindAddress, "bind-address", o.BindAddress, "The IP address on which to listen for the --secure-port port. If blank or an unspecified address (0.0.0.0 or ::), all interfaces and IP address families will be used.")
	fs.IntVar(&o.BindPort, "secure-port", o.BindPort, "The port on which to serve HTTPS with authentication and authorization. If 0, don't serve HTTPS at all.")
	fs.StringVar(&o.CertFile, "tls-cert-file", o.CertFile, "File containing the default x509 Certificate for HTTPS (CA cert, if any, concatenated after server cert); reloaded when it changes. If not given, a self-signed certificate and key are generated in memory.")
	fs.StringVar(&o.KeyFile, "tls-private-key-file", o.KeyFile, "File containing the default x509 private key matching --tls-cert-file.")
	fs.StringVar(&o.TLSMinVersion, "tls-min-version", o.TLSMinVersion, "Minimum TLS version supported. Possible values: "+strings.Join(cliflag.TLSPossibleVersions(), ", "))
	fs.StringSliceVar(&o.TLSCipherSuites, "tls-cipher-suites", o.TLSCipherSuites, "Comma-separated list of cipher suites for the server. If omitted, the default Go cipher suites will be used. Possible values: "+strings.Join(cliflag.TLSCipherPossibleValues(), ", "))

	fs = fss.FlagSet("authentication")
	fs.StringVar(&o.AuthenticationKubeconfig, "authentication-kubeconfig", o.AuthenticationKubeconfig, "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create tokenreviews.authentication.k8s.io. Default: --kubeconfig, else the in-cluster configuration; without either, all token requests are anonymous.")
	fs.BoolVar(&o.SkipLookup, "authentication-skip-lookup", o.SkipLookup, "If false, the authentication-kubeconfig will be used to lookup missing authentication configuration (the client CA) from the cluster.")
	fs.BoolVar(&o.TolerateLookupFailure, "authentication-tolerate-lookup-failure", o.TolerateLookupFailure, "If true, failures to look up missing authentication configuration from the cluster are not considered fatal.")
	fs.DurationVar(&o.TokenCacheTTL, "authentication-token-webhook-cache-ttl", o.TokenCacheTTL, "The duration to cache responses from the webhook token authenticator.")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate.")

	fs = fss.FlagSet("authorization")
	fs.StringVar(&o.AuthorizationKubeconfig, "authorization-kubeconfig", o.AuthorizationKubeconfig, "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create subjectaccessreviews.authorization.k8s.io. Default: --kubeconfig, else the in-cluster configuration; without either, all requests not skipped by authorization are forbidden.")
	fs.StringSliceVar(&o.AlwaysAllowPaths, "authorization-always-allow-paths", o.AlwaysAllowPaths, "A list of HTTP paths to skip during authorization, i.e. these are authorized without contacting the 'core' kubernetes server.")
	fs.DurationVar(&o.AllowCacheTTL, "authorization-webhook-cache-authorized-ttl", o.AllowCacheTTL, "The duration to cache 'authorized' responses from the webhook authorizer.")
	fs.DurationVar(&o.DenyCacheTTL, "authorization-webhook-cache-unauthorized-ttl", o.DenyCacheTTL, "The duration to cache 'unauthorized' responses from the webhook authorizer.")
}

// Validate returns every problem with the options.
func (o *SecureOptions) Validate() []error {
	var errs []error
	if o.BindPort < 0 || o.BindPort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d must be between 0 and 65535, inclusive. 0 for turning off secure port", o.BindPort))
	}
	if o.BindAddress == nil {
		errs = append(errs, errors.New("--bind-address must be an IP address"))
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-private-key-file go together"))
	}
	if o.TLSMinVersion != "" {
		if _, err := cliflag.TLSVersion(o.TLSMinVersion); err != nil {
			errs = append(errs, fmt.Errorf("--tls-min-version: %w", err))
		}
	}
	if _, err := cliflag.TLSCipherSuites(o.TLSCipherSuites); err != nil {
		errs = append(errs, fmt.Errorf("--tls-cipher-suites: %w", err))
	}
	for name, d := range map[string]time.Duration{"--authentication-token-webhook-cache-ttl": o.TokenCacheTTL,
		"--authorization-webhook-cache-authorized-ttl": o.AllowCacheTTL, "--authorization-webhook-cache-unauthorized-ttl": o.DenyCacheTTL} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", name, d))
		}
	}
	return errs
}

// ServeSecure serves h over HTTPS until ctx ends, behind authentication
// and authorization delegated to the API server, as kube-controller-manager
// serves: requests without credentials are system:anonymous, paths in
// --authorization-always-allow-paths and the system:masters group need no
// review, everything else needs a SubjectAccessReview that allows it.
// Errors setting up (a bad certificate, a port in use, a client CA that
// cannot be looked up) are returned; later ones are logged.
func (o *SecureOptions) ServeSecure(ctx context.Context, h http.Handler) error {
	authn, clientCA, err := o.authenticator(ctx)
	if err != nil {
		return err
	}
	authz, err := o.authorizer()
	if err != nil {
		return err
	}
	tlsConfig, err := o.tlsConfig(ctx, clientCA)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress.String(), strconv.Itoa(o.BindPort)))
	if err != nil {
		return fmt.Errorf("listening on the secure port: %w", err)
	}
	srv := &http.Server{
		Handler:           filters(h, authn, authz),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
	}
	run(ctx, srv, func() error { return srv.ServeTLS(ln, "", "") }, ln.Addr().String())
	klog.InfoS("Serving securely on "+ln.Addr().String(), "address", ln.Addr().String())
	return nil
}

// tlsConfig serves the given or a self-signed certificate, reloading a
// given one when its files change, and asks for client certificates signed
// by clientCA (nil: none).
func (o *SecureOptions) tlsConfig(ctx context.Context, clientCA dynamiccertificates.CAContentProvider) (*tls.Config, error) {
	// Client certificates are asked for, not required: they are one way
	// to authenticate, tokens and anonymous are others.
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}, ClientAuth: tls.RequestClientCert}
	if o.TLSMinVersion != "" {
		base.MinVersion, _ = cliflag.TLSVersion(o.TLSMinVersion) // validated
	}
	if len(o.TLSCipherSuites) > 0 {
		base.CipherSuites, _ = cliflag.TLSCipherSuites(o.TLSCipherSuites)
	}
	var serving dynamiccertificates.CertKeyContentProvider
	if o.CertFile != "" {
		files, err := dynamiccertificates.NewDynamicServingContentFromFiles("serving-cert", o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the serving certificate: %w", err)
		}
		go files.Run(ctx, 1)
		serving = files
	} else {
		cert, key, err := certutil.GenerateSelfSignedCertKey("localhost", []net.IP{net.ParseIP("127.0.0.1")}, nil)
		if err != nil {
			return nil, fmt.Errorf("generating a self-signed serving certificate: %w", err)
		}
		if serving, err = dynamiccertificates.NewStaticCertKeyContent("self-signed", cert, key); err != nil {
			return nil, err
		}
		klog.InfoS("Generated self-signed cert in-memory")
	}
	c := dynamiccertificates.NewDynamicServingCertificateController(base, clientCA, serving, nil, nil)
	if clientCA != nil {
		clientCA.AddListener(c)
	}
	if files, ok := serving.(*dynamiccertificates.DynamicCertKeyPairContent); ok {
		files.AddListener(c)
	}
	if err := c.RunOnce(); err != nil {
		return nil, fmt.Errorf("loading the serving certificate: %w", err)
	}
	go c.Run(1, ctx.Done())
	return &tls.Config{GetConfigForClient: c.GetConfigForClient, MinVersion: base.MinVersion}, nil
}

// delegateClient is the client for TokenReviews or SubjectAccessReviews:
// from kubeconfig, else in-cluster, else none (nil, nil).
func delegateClient(kubeconfig, purpose string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			klog.InfoS("No kubeconfig for delegated "+purpose+" and not in a cluster: "+purpose+" only by the built-in rules", "purpose", purpose)
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("client for delegated %s: %w", purpose, err)
	}
	// As the library: reviews are cheap and limit how fast /metrics answers.
	cfg.QPS, cfg.Burst = 200, 400
	return kubernetes.NewForConfig(cfg)
}

// clientCA is --client-ca-file, else the client-ca-file of kube-system's
// extension-apiserver-authentication ConfigMap, followed as it changes;
// nil when neither exists (client certificates then authenticate nobody).
func (o *SecureOptions) clientCA(ctx context.Context, client kubernetes.Interface) (dynamiccertificates.CAContentProvider, error) {
	if o.ClientCAFile != "" {
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca-bundle", o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--client-ca-file: %w", err)
		}
		go ca.Run(ctx, 1)
		return ca, nil
	}
	if o.SkipLookup || client == nil {
		return nil, nil
	}
	const ns, name, key = metav1.NamespaceSystem, "extension-apiserver-authentication", "client-ca-file"
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || (err == nil && cm.Data[key] == ""):
		klog.InfoS("No client CA in the cluster: client certificates are not accepted", "configMap", ns+"/"+name)
		return nil, nil
	case err != nil && o.TolerateLookupFailure:
		klog.ErrorS(err, "Looking up the client CA failed; continuing without it (--authentication-tolerate-lookup-failure)", "configMap", ns+"/"+name)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("looking up the client CA in configmap %s/%s (the ServiceAccount needs Role extension-apiserver-authentication-reader there; or set --authentication-skip-lookup): %w", ns, name, err)
	}
	ca, err := dynamiccertificates.NewDynamicCAFromConfigMapController("client-ca", ns, name, key, client)
	if err != nil {
		return nil, err
	}
	if err := ca.RunOnce(ctx); err != nil {
		return nil, fmt.Errorf("loading the client CA: %w", err)
	}
	go ca.Run(ctx, 1)
	return ca, nil
}
