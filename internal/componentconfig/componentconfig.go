// Package componentconfig owns the configuration files the daemons read: the
// KubeletConfiguration, the KubeProxyConfiguration, the apiserver's audit
// policy, its admission plugins' configuration and its EncryptionConfiguration. Each is built from the upstream Go
// type and serialized with sigs.k8s.io/yaml, never from text templates.
//
// It must not write files (callers write the returned Files through
// host.Root), detect host facts (they arrive in units.Host), or ever replace
// an existing encryption key: see EncryptionConfig.
package componentconfig

import (
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/units"
)

// ContainerRuntimeEndpoint is containerd's CRI socket, as the kubelet dials it.
const ContainerRuntimeEndpoint = "unix:///run/containerd/containerd.sock"

// Render returns the five config files. existingEncryption is the current
// encryption config file (nil on a fresh install): its keys are kept, and
// random (crypto/rand.Reader outside tests) is read only when a new key is
// needed. The kubelet config is 0600 (CIS 4.1.9), the encryption config 0600
// (it holds the key), the others 0644.
func Render(c *config.Cluster, h units.Host, existingEncryption []byte, random io.Reader) ([]units.File, error) {
	kubelet, err := kubeletConfiguration(c, h)
	if err != nil {
		return nil, err
	}
	admission, err := admissionConfiguration()
	if err != nil {
		return nil, err
	}
	var files []units.File
	for _, f := range []struct {
		path string
		obj  any
		mode os.FileMode
	}{
		{layout.KubeletConfig, kubelet, layout.ModePrivate},
		{layout.KubeProxyConfig, kubeProxyConfiguration(c, h), layout.ModePublic},
		{layout.AuditPolicy, auditPolicy(), layout.ModePublic},
		{layout.AdmissionConfig, admission, layout.ModePublic},
	} {
		data, err := marshal(f.path, f.obj)
		if err != nil {
			return nil, err
		}
		if f.path == layout.KubeletConfig {
			if data, err = withoutZeroDurations(data); err != nil {
				return nil, err
			}
		}
		files = append(files, units.File{Path: f.path, Data: data, Mode: f.mode})
	}
	encryption, err := EncryptionConfig(existingEncryption, c.APIServer.EncryptionProvider, random)
	if err != nil {
		return nil, err
	}
	return append(files, units.File{Path: layout.EncryptionConfig, Data: encryption, Mode: layout.ModePrivate}), nil
}

// marshal serializes an upstream config object as YAML.
func marshal(path string, obj any) ([]byte, error) {
	data, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", path, err)
	}
	return data, nil
}

// withoutZeroDurations drops the fields the kubelet's Go type writes as zero
// although nobody set them ("syncFrequency: 0s", an empty logging block):
// the kubelet reads a missing field as its default, and an auditor reads
// "streamingConnectionIdleTimeout: 0s" as "never times out". What k8s-single
// sets stays, zeros it means included (failCgroupV1: false).
func withoutZeroDurations(data []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("prune kubelet config: %w", err)
	}
	delete(doc, "logging") // every value in it is the zero the type writes
	pruneZeros(doc)
	return yaml.Marshal(doc)
}

// pruneZeros removes "0s" durations and the maps that are left empty.
func pruneZeros(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case string:
			if v == "0s" {
				delete(m, k)
			}
		case map[string]any:
			pruneZeros(v)
			if len(v) == 0 {
				delete(m, k)
			}
		}
	}
}
