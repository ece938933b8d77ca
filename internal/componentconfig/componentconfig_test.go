package componentconfig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/k8s-single/k8s-single/internal/config/configtest"
	"github.com/k8s-single/k8s-single/internal/golden"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/units"
)

// hosts are the machines the golden files are rendered for.
var hosts = map[string]units.Host{
	// nspawn is the measured machine: cgroup v1, systemd in a container.
	"nspawn": {CgroupDriver: "systemd", CgroupV1: true, ConntrackReadOnly: true},
	// vm is a stock VM: cgroup v2, systemd-resolved, its own conntrack table.
	"vm": {CgroupDriver: "cgroupfs", SystemdResolved: true},
}

// fixedRandom makes generated keys reproducible in golden files.
func fixedRandom() io.Reader {
	return strings.NewReader(strings.Repeat("0123456789abcdef", 8))
}

// render returns the rendered files by host path.
func render(t *testing.T, h units.Host, existingEncryption []byte) map[string]units.File {
	t.Helper()
	files, err := Render(configtest.Cluster(t), h, existingEncryption, fixedRandom())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	byPath := map[string]units.File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	return byPath
}

// decode strictly decodes a rendered file into its upstream type.
func decode[T any](t *testing.T, files map[string]units.File, path string) *T {
	t.Helper()
	f, ok := files[path]
	if !ok {
		t.Fatalf("%s not rendered", path)
	}
	var obj T
	if err := yaml.UnmarshalStrict(f.Data, &obj); err != nil {
		t.Fatalf("%s does not decode strictly: %v\n%s", path, err, f.Data)
	}
	return &obj
}

func TestRenderGolden(t *testing.T) {
	for name, h := range hosts {
		for _, f := range render(t, h, nil) {
			// var/lib/kubelet/config.yaml -> kubelet-config.yaml
			file := filepath.Base(filepath.Dir(f.Path)) + "-" + filepath.Base(f.Path)
			golden.Check(t, filepath.Join("testdata", name, file), f.Data)
		}
	}
}

func TestRenderPathsAndModes(t *testing.T) {
	files := render(t, hosts["nspawn"], nil)
	want := map[string]os.FileMode{
		layout.KubeletConfig:    0o600,
		layout.KubeProxyConfig:  0o644,
		layout.AuditPolicy:      0o644,
		layout.AdmissionConfig:  0o644,
		layout.EncryptionConfig: 0o600,
	}
	if len(files) != len(want) {
		t.Errorf("%d files, want %d", len(files), len(want))
	}
	for path, mode := range want {
		if files[path].Mode != mode {
			t.Errorf("%s mode %o, want %o", path, files[path].Mode, mode)
		}
	}
}

func TestRenderNeedsResolvedCgroupDriver(t *testing.T) {
	for _, driver := range []string{"", "auto"} {
		if _, err := Render(configtest.Cluster(t), units.Host{CgroupDriver: driver}, nil, fixedRandom()); err == nil {
			t.Errorf("cgroup driver %q: no error", driver)
		}
	}
}

func TestKubeletConfiguration(t *testing.T) {
	for name, h := range hosts {
		t.Run(name, func(t *testing.T) {
			k := decode[kubeletv1beta1.KubeletConfiguration](t, render(t, h, nil), layout.KubeletConfig)
			check := func(field string, got, want any) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			check("apiVersion", k.APIVersion, "kubelet.config.k8s.io/v1beta1")
			check("kind", k.Kind, "KubeletConfiguration")
			check("authentication.anonymous.enabled", deref(k.Authentication.Anonymous.Enabled), "false")
			check("authentication.webhook.enabled", deref(k.Authentication.Webhook.Enabled), "true")
			check("authentication.x509.clientCAFile", k.Authentication.X509.ClientCAFile, "/etc/kubernetes/pki/ca.crt")
			check("authorization.mode", k.Authorization.Mode, kubeletv1beta1.KubeletAuthorizationModeWebhook)
			check("readOnlyPort", k.ReadOnlyPort, int32(0))
			check("rotateCertificates", k.RotateCertificates, true)
			check("serverTLSBootstrap", k.ServerTLSBootstrap, false)
			check("tlsCertFile", k.TLSCertFile, "/etc/kubernetes/pki/kubelet.crt")
			check("tlsPrivateKeyFile", k.TLSPrivateKeyFile, "/etc/kubernetes/pki/kubelet.key")
			check("tlsMinVersion", k.TLSMinVersion, "VersionTLS12")
			check("tlsCipherSuites", strings.Join(k.TLSCipherSuites, ","), strings.Join(units.TLSCipherSuites, ","))
			check("clusterDNS", strings.Join(k.ClusterDNS, ","), "10.96.0.10")
			check("clusterDomain", k.ClusterDomain, "cluster.local")
			check("cgroupDriver", k.CgroupDriver, h.CgroupDriver)
			check("protectKernelDefaults", k.ProtectKernelDefaults, false)
			check("containerRuntimeEndpoint", k.ContainerRuntimeEndpoint, "unix:///run/containerd/containerd.sock")
			check("imagePullCredentialsVerificationPolicy", k.ImagePullCredentialsVerificationPolicy, kubeletv1beta1.NeverVerify)
			check("staticPodPath", k.StaticPodPath, "")
			wantResolv, wantFailV1 := "/etc/resolv.conf", "<unset>"
			if h.SystemdResolved {
				wantResolv = "/run/systemd/resolve/resolv.conf"
			}
			if h.CgroupV1 {
				wantFailV1 = "false"
			}
			check("resolvConf", deref(k.ResolverConfig), wantResolv)
			check("failCgroupV1", deref(k.FailCgroupV1), wantFailV1)
			// CIS 4.2.5, 4.2.13, 4.2.14 and the webhook caches stated, not zero.
			check("streamingConnectionIdleTimeout", k.StreamingConnectionIdleTimeout.Duration, 4*time.Hour)
			check("authentication.webhook.cacheTTL", k.Authentication.Webhook.CacheTTL.Duration, 2*time.Minute)
			check("authorization.webhook.cacheAuthorizedTTL", k.Authorization.Webhook.CacheAuthorizedTTL.Duration, 5*time.Minute)
			check("authorization.webhook.cacheUnauthorizedTTL", k.Authorization.Webhook.CacheUnauthorizedTTL.Duration, 30*time.Second)
			check("podPidsLimit", deref(k.PodPidsLimit), "4096")
			check("seccompDefault", deref(k.SeccompDefault), "true")
			// Pods are evicted and images collected before the disk fills.
			check("evictionHard[nodefs.available]", k.EvictionHard["nodefs.available"], "10%")
			check("evictionHard[imagefs.available]", k.EvictionHard["imagefs.available"], "15%")
			check("evictionHard[memory.available]", k.EvictionHard["memory.available"], "200Mi")
			check("imageGCHighThresholdPercent", deref(k.ImageGCHighThresholdPercent), "80")
			check("imageGCLowThresholdPercent", deref(k.ImageGCLowThresholdPercent), "70")
			check("kubeReserved[memory]", k.KubeReserved["memory"], "256Mi")
			check("systemReserved[ephemeral-storage]", k.SystemReserved["ephemeral-storage"], "1Gi")
		})
	}
}

// TestKubeletConfigHasNoUnsetZeros: no field of the kubelet's file is a zero
// duration nobody chose (an auditor reads "0s" as "off").
func TestKubeletConfigHasNoUnsetZeros(t *testing.T) {
	data := render(t, hosts["nspawn"], nil)[layout.KubeletConfig].Data
	for _, bad := range []string{": 0s", "logging:", "infoBufferSize", "{}"} {
		if strings.Contains(string(data), bad) {
			t.Errorf("the kubelet config still holds %q:\n%s", bad, data)
		}
	}
}

// TestAdmissionConfiguration: the file the apiserver's
// --admission-control-config-file names configures EventRateLimit with a
// server-wide limit (CIS 1.2.9).
func TestAdmissionConfiguration(t *testing.T) {
	a := decode[apiserverv1.AdmissionConfiguration](t, render(t, hosts["nspawn"], nil), layout.AdmissionConfig)
	if a.Kind != "AdmissionConfiguration" || len(a.Plugins) != 1 || a.Plugins[0].Name != "EventRateLimit" {
		t.Fatalf("admission config = %+v, want one EventRateLimit plugin", a)
	}
	var limits eventRateLimit
	if err := json.Unmarshal(a.Plugins[0].Configuration.Raw, &limits); err != nil {
		t.Fatal(err)
	}
	if limits.APIVersion != "eventratelimit.admission.k8s.io/v1alpha1" || len(limits.Limits) == 0 || limits.Limits[0].Type != "Server" || limits.Limits[0].QPS <= 0 {
		t.Errorf("EventRateLimit configuration = %+v, want a Server limit with a positive qps", limits)
	}
}

func TestKubeProxyConfiguration(t *testing.T) {
	for name, h := range hosts {
		t.Run(name, func(t *testing.T) {
			p := decode[kubeproxyv1alpha1.KubeProxyConfiguration](t, render(t, h, nil), layout.KubeProxyConfig)
			wantConntrack := "<unset>"
			if h.ConntrackReadOnly {
				wantConntrack = "0"
			}
			for _, c := range []struct{ field, got, want string }{
				{"apiVersion", p.APIVersion, "kubeproxy.config.k8s.io/v1alpha1"},
				{"kind", p.Kind, "KubeProxyConfiguration"},
				{"mode", string(p.Mode), "iptables"},
				{"clusterCIDR", p.ClusterCIDR, "10.244.0.0/16"},
				{"clientConnection.kubeconfig", p.ClientConnection.Kubeconfig, "/etc/kubernetes/kube-proxy.conf"},
				{"bindAddress", p.BindAddress, "192.168.56.10"},
				{"metricsBindAddress", p.MetricsBindAddress, "127.0.0.1:10249"},
				{"conntrack.maxPerCore", deref(p.Conntrack.MaxPerCore), wantConntrack},
				{"conntrack.min", deref(p.Conntrack.Min), wantConntrack},
			} {
				if c.got != c.want {
					t.Errorf("%s = %s, want %s", c.field, c.got, c.want)
				}
			}
		})
	}
}

// deref prints a pointer's value, or <unset> for nil.
func deref[T any](p *T) string {
	if p == nil {
		return "<unset>"
	}
	return fmt.Sprint(*p)
}

func TestAuditPolicy(t *testing.T) {
	p := decode[auditv1.Policy](t, render(t, hosts["nspawn"], nil), layout.AuditPolicy)
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		t.Errorf("apiVersion/kind %s/%s", p.APIVersion, p.Kind)
	}
	if len(p.OmitStages) != 1 || p.OmitStages[0] != auditv1.StageRequestReceived {
		t.Errorf("omitStages %v, want [RequestReceived]", p.OmitStages)
	}
	for _, r := range p.Rules {
		if r.Level == auditv1.LevelRequest || r.Level == auditv1.LevelRequestResponse {
			t.Errorf("rule %+v records request bodies", r)
		}
	}
	for _, c := range []struct {
		group, resource, url string
		want                 auditv1.Level
	}{
		{resource: "secrets", want: auditv1.LevelMetadata},
		{resource: "configmaps", want: auditv1.LevelMetadata},
		{group: "authentication.k8s.io", resource: "tokenreviews", want: auditv1.LevelMetadata},
		{resource: "events", want: auditv1.LevelNone},
		{group: "events.k8s.io", resource: "events", want: auditv1.LevelNone},
		{url: "/healthz", want: auditv1.LevelNone},
		{url: "/readyz/etcd", want: auditv1.LevelNone},
		{url: "/livez", want: auditv1.LevelNone},
		{resource: "pods", want: auditv1.LevelMetadata},
		{group: "apps", resource: "deployments", want: auditv1.LevelMetadata},
		{url: "/version", want: auditv1.LevelMetadata},
	} {
		if got := levelFor(p, c.group, c.resource, c.url); got != c.want {
			t.Errorf("%s/%s %s: level %s, want %s", c.group, c.resource, c.url, got, c.want)
		}
	}
}

// levelFor evaluates the policy as the apiserver does for the rule fields
// this policy uses: first matching rule wins.
func levelFor(p *auditv1.Policy, group, resource, url string) auditv1.Level {
	for _, r := range p.Rules {
		if len(r.Users)+len(r.UserGroups)+len(r.Verbs)+len(r.Namespaces) > 0 {
			continue // not used by this policy
		}
		if ruleMatches(r, group, resource, url) {
			return r.Level
		}
	}
	return auditv1.LevelNone
}

func ruleMatches(r auditv1.PolicyRule, group, resource, url string) bool {
	if len(r.Resources) == 0 && len(r.NonResourceURLs) == 0 {
		return true
	}
	if url != "" {
		for _, u := range r.NonResourceURLs {
			if prefix, wild := strings.CutSuffix(u, "*"); u == url || wild && strings.HasPrefix(url, prefix) {
				return true
			}
		}
		return false
	}
	for _, gr := range r.Resources {
		if gr.Group == group && (len(gr.Resources) == 0 || slices.Contains(gr.Resources, resource)) {
			return true
		}
	}
	return false
}

func TestEncryptionConfigFresh(t *testing.T) {
	for _, provider := range []string{"aescbc", "secretbox"} {
		t.Run(provider, func(t *testing.T) {
			data, err := EncryptionConfig(nil, provider, fixedRandom())
			if err != nil {
				t.Fatal(err)
			}
			cfg := decodeEncryption(t, data)
			if cfg.APIVersion != "apiserver.config.k8s.io/v1" || cfg.Kind != "EncryptionConfiguration" {
				t.Errorf("apiVersion/kind %s/%s", cfg.APIVersion, cfg.Kind)
			}
			if len(cfg.Resources) != 1 || strings.Join(cfg.Resources[0].Resources, ",") != "secrets" {
				t.Fatalf("resources %+v, want one entry for secrets", cfg.Resources)
			}
			if got := providerNames(cfg); got != provider+",identity" {
				t.Errorf("providers %s, want %s,identity", got, provider)
			}
			checkKey(t, firstKeys(cfg)[0].Secret)
			// kube-bench 1.2.28 reads the provider from the line after "providers:".
			_, after, _ := strings.Cut(string(data), "providers:\n")
			if line, _, _ := strings.Cut(after, "\n"); !strings.Contains(line, provider) {
				t.Errorf("line after providers: is %q, want it to name %s", line, provider)
			}
		})
	}
}

func TestEncryptionConfigKeepsKeys(t *testing.T) {
	first, err := EncryptionConfig(nil, "aescbc", fixedRandom())
	if err != nil {
		t.Fatal(err)
	}
	// A re-run must not read randomness at all, let alone re-key.
	again, err := EncryptionConfig(first, "aescbc", failingReader{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, first) {
		t.Errorf("re-run changed the file:\n%s\nwas\n%s", again, first)
	}
	// Through Render as well.
	rendered := render(t, hosts["vm"], first)[layout.EncryptionConfig].Data
	if !bytes.Equal(rendered, first) {
		t.Errorf("Render changed an existing encryption config")
	}
}

func TestEncryptionConfigProviderChange(t *testing.T) {
	aescbc, err := EncryptionConfig(nil, "aescbc", fixedRandom())
	if err != nil {
		t.Fatal(err)
	}
	oldKey := firstKeys(decodeEncryption(t, aescbc))[0].Secret

	secretbox, err := EncryptionConfig(aescbc, "secretbox", strings.NewReader(strings.Repeat("S", 32)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := decodeEncryption(t, secretbox)
	if got := providerNames(cfg); got != "secretbox,aescbc,identity" {
		t.Fatalf("providers after change %s, want secretbox,aescbc,identity", got)
	}
	newKey := firstKeys(cfg)[0].Secret
	checkKey(t, newKey)
	if newKey == oldKey || cfg.Resources[0].Providers[1].AESCBC.Keys[0].Secret != oldKey {
		t.Errorf("old aescbc key not kept behind a new secretbox key:\n%s", secretbox)
	}

	back, err := EncryptionConfig(secretbox, "aescbc", failingReader{})
	if err != nil {
		t.Fatalf("switching back must reuse the kept key: %v", err)
	}
	cfg = decodeEncryption(t, back)
	if got := providerNames(cfg); got != "aescbc,secretbox,identity" {
		t.Errorf("providers after switching back %s, want aescbc,secretbox,identity", got)
	}
	if firstKeys(cfg)[0].Secret != oldKey || cfg.Resources[0].Providers[1].Secretbox.Keys[0].Secret != newKey {
		t.Errorf("keys changed when switching back:\n%s", back)
	}
}

func TestEncryptionConfigErrors(t *testing.T) {
	for name, c := range map[string]struct {
		existing, provider string
		random             io.Reader
	}{
		"unknown provider":       {provider: "aesgcm", random: fixedRandom()},
		"short randomness":       {provider: "aescbc", random: strings.NewReader("short")},
		"corrupt file":           {existing: "resources: [", provider: "aescbc", random: fixedRandom()},
		"unknown field":          {existing: "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresource: []\n", provider: "aescbc", random: fixedRandom()},
		"does not cover secrets": {existing: "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [configmaps]\n  providers: [{identity: {}}]\n", provider: "aescbc", random: fixedRandom()},
	} {
		if _, err := EncryptionConfig([]byte(c.existing), c.provider, c.random); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func decodeEncryption(t *testing.T, data []byte) *apiserverv1.EncryptionConfiguration {
	t.Helper()
	var cfg apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("encryption config does not decode strictly: %v\n%s", err, data)
	}
	return &cfg
}

func providerNames(cfg *apiserverv1.EncryptionConfiguration) string {
	var names []string
	for _, p := range cfg.Resources[0].Providers {
		names = append(names, providerName(p))
	}
	return strings.Join(names, ",")
}

func firstKeys(cfg *apiserverv1.EncryptionConfiguration) []apiserverv1.Key {
	p := cfg.Resources[0].Providers[0]
	if p.AESCBC != nil {
		return p.AESCBC.Keys
	}
	return p.Secretbox.Keys
}

// checkKey asserts a base64 secret decodes to 32 bytes.
func checkKey(t *testing.T, secret string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil || len(key) != 32 {
		t.Errorf("key %q: %d bytes, err %v; want 32 bytes of base64", secret, len(key), err)
	}
}
