package componentconfig

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"

	"github.com/k8s-single/k8s-single/internal/layout"
)

// keySize is the AES-256 / secretbox key length.
const keySize = 32

// EncryptionConfig returns the apiserver's EncryptionConfiguration, which
// encrypts Secrets at rest with provider (aescbc or secretbox) and reads
// Secrets stored before encryption was on through identity.
//
// The key is generated once, at install, from random. A re-run passes the
// current file as existing, and its keys are never replaced (Secrets written
// with them would become unreadable):
//   - provider already first: existing is returned byte for byte;
//   - provider present further down (switched away and back): it is moved
//     first with its keys, the others stay behind it;
//   - provider absent (the configured provider changed): a new provider with
//     a fresh key goes first and every old provider stays after it, so Secrets
//     written before are still read. They stay encrypted with the old provider
//     until rewritten (kubectl get secrets -A -o json | kubectl replace -f -);
//     only then may the old provider be removed, by hand.
//
// An existing file that does not parse, or does not cover secrets, is an
// error: it must be repaired by hand, never regenerated.
func EncryptionConfig(existing []byte, provider string, random io.Reader) ([]byte, error) {
	if provider != "aescbc" && provider != "secretbox" {
		return nil, fmt.Errorf("encryption provider %q: want aescbc or secretbox", provider)
	}
	if len(bytes.TrimSpace(existing)) == 0 {
		return newEncryptionConfig(provider, random)
	}
	var cfg apiserverv1.EncryptionConfiguration
	err := yaml.UnmarshalStrict(existing, &cfg)
	if err != nil {
		return nil, fmt.Errorf("read the existing %s: %w; repair it by hand, never delete it: its key decrypts the stored Secrets", layout.EncryptionConfig, err)
	}
	secrets := slices.IndexFunc(cfg.Resources, func(r apiserverv1.ResourceConfiguration) bool {
		return slices.Contains(r.Resources, "secrets")
	})
	if secrets < 0 {
		return nil, fmt.Errorf("the existing %s does not cover secrets; add a secrets entry by hand, keeping its keys", layout.EncryptionConfig)
	}
	providers := cfg.Resources[secrets].Providers
	i := slices.IndexFunc(providers, func(p apiserverv1.ProviderConfiguration) bool { return providerName(p) == provider })
	var first apiserverv1.ProviderConfiguration
	switch {
	case i == 0:
		return existing, nil
	case i > 0:
		first = providers[i]
		providers = slices.Delete(providers, i, i+1)
	default:
		if first, err = newProvider(provider, random); err != nil {
			return nil, err
		}
	}
	cfg.Resources[secrets].Providers = slices.Insert(providers, 0, first)
	return marshal(layout.EncryptionConfig, &cfg)
}

// newEncryptionConfig is a fresh install's file: provider with a new key,
// then identity.
func newEncryptionConfig(provider string, random io.Reader) ([]byte, error) {
	p, err := newProvider(provider, random)
	if err != nil {
		return nil, err
	}
	return marshal(layout.EncryptionConfig, &apiserverv1.EncryptionConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: apiserverv1.SchemeGroupVersion.String(), Kind: "EncryptionConfiguration"},
		Resources: []apiserverv1.ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []apiserverv1.ProviderConfiguration{p, {Identity: &apiserverv1.IdentityConfiguration{}}},
		}},
	})
}

// newProvider returns provider with one fresh 32-byte key named key1 (the
// ciphertext prefix names the provider too, so providers may share key names).
func newProvider(provider string, random io.Reader) (apiserverv1.ProviderConfiguration, error) {
	key := make([]byte, keySize)
	if _, err := io.ReadFull(random, key); err != nil {
		return apiserverv1.ProviderConfiguration{}, fmt.Errorf("generate the %s key: %w", provider, err)
	}
	keys := []apiserverv1.Key{{Name: "key1", Secret: base64.StdEncoding.EncodeToString(key)}}
	if provider == "secretbox" {
		return apiserverv1.ProviderConfiguration{Secretbox: &apiserverv1.SecretboxConfiguration{Keys: keys}}, nil
	}
	return apiserverv1.ProviderConfiguration{AESCBC: &apiserverv1.AESConfiguration{Keys: keys}}, nil
}

// providerName is the provider's key in the file: aescbc, secretbox, ...
func providerName(p apiserverv1.ProviderConfiguration) string {
	switch {
	case p.AESCBC != nil:
		return "aescbc"
	case p.Secretbox != nil:
		return "secretbox"
	case p.AESGCM != nil:
		return "aesgcm"
	case p.KMS != nil:
		return "kms"
	case p.Identity != nil:
		return "identity"
	}
	return ""
}
