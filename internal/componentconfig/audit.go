package componentconfig

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// auditPolicy records who did what to which object (Metadata) and never a
// request or response body: Secrets, ConfigMaps and TokenReviews carry
// credentials. Health probes and Events, the bulk of the traffic, are not
// recorded. Rules match first to last.
func auditPolicy() *auditv1.Policy {
	return &auditv1.Policy{
		TypeMeta:   metav1.TypeMeta{APIVersion: auditv1.SchemeGroupVersion.String(), Kind: "Policy"},
		OmitStages: []auditv1.Stage{auditv1.StageRequestReceived},
		Rules: []auditv1.PolicyRule{
			{
				Level:           auditv1.LevelNone,
				NonResourceURLs: []string{"/healthz*", "/readyz*", "/livez*"},
			},
			{
				Level: auditv1.LevelNone,
				Resources: []auditv1.GroupResources{
					{Group: "", Resources: []string{"events"}},
					{Group: "events.k8s.io", Resources: []string{"events"}},
				},
			},
			{
				Level: auditv1.LevelMetadata,
				Resources: []auditv1.GroupResources{
					{Group: "", Resources: []string{"secrets", "configmaps"}},
					{Group: "authentication.k8s.io", Resources: []string{"tokenreviews"}},
				},
			},
			{Level: auditv1.LevelMetadata},
		},
	}
}
