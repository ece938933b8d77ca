package componentconfig

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
)

// eventRateLimit is the EventRateLimit admission plugin's configuration
// (eventratelimit.admission.k8s.io/v1alpha1; its Go type lives in the
// kubernetes repository itself, not in a published module). The limits keep
// a runaway client from flooding etcd with Events (CIS 1.2.9) and stay far
// above what one node's components and add-ons send.
type eventRateLimit struct {
	metav1.TypeMeta `json:",inline"`
	Limits          []eventLimit `json:"limits"`
}

// eventLimit is one token bucket: per server, namespace, user or source+object.
type eventLimit struct {
	Type      string `json:"type"`
	QPS       int32  `json:"qps"`
	Burst     int32  `json:"burst"`
	CacheSize int32  `json:"cacheSize,omitempty"`
}

// admissionConfiguration is the file --admission-control-config-file names:
// the EventRateLimit plugin's limits, embedded.
func admissionConfiguration() (*apiserverv1.AdmissionConfiguration, error) {
	limits, err := json.Marshal(eventRateLimit{
		TypeMeta: metav1.TypeMeta{APIVersion: "eventratelimit.admission.k8s.io/v1alpha1", Kind: "Configuration"},
		Limits: []eventLimit{
			{Type: "Server", QPS: 50, Burst: 100},
			{Type: "Namespace", QPS: 20, Burst: 50, CacheSize: 2000},
			{Type: "User", QPS: 10, Burst: 50, CacheSize: 2000},
		},
	})
	if err != nil {
		return nil, err
	}
	return &apiserverv1.AdmissionConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: apiserverv1.SchemeGroupVersion.String(), Kind: "AdmissionConfiguration"},
		Plugins: []apiserverv1.AdmissionPluginConfiguration{
			{Name: "EventRateLimit", Configuration: &runtime.Unknown{Raw: limits, ContentType: runtime.ContentTypeJSON}},
		},
	}, nil
}
