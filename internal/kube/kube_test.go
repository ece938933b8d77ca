package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecode(t *testing.T) {
	objs, err := Decode([]byte("# comment\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: kube-system}\n---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetKind() != "ServiceAccount" || objs[1].GetName() != "b" {
		t.Fatalf("decoded %v", objs)
	}
	if _, err := Decode([]byte("apiVersion: v1\nkind: Service\nmetadata: {}\n")); err == nil || !strings.Contains(err.Error(), "no kind or metadata.name") {
		t.Errorf("a nameless object was accepted: %v", err)
	}
	if _, err := Decode([]byte("kind: [")); err == nil {
		t.Errorf("broken YAML was accepted")
	}
}

func TestRolledOut(t *testing.T) {
	two := int32(2)
	d := func(gen, observed int64, updated, total, available int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: &two},
			Status:     appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: total, AvailableReplicas: available},
		}
	}
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		want bool
	}{
		{"complete", d(3, 3, 2, 2, 2), true},
		{"new generation not observed", d(4, 3, 2, 2, 2), false},
		{"old replicas still running", d(3, 3, 2, 3, 2), false},
		{"not yet available", d(3, 3, 2, 2, 1), false},
	} {
		if got := rolledOut(tc.d); got != tc.want {
			t.Errorf("%s: rolledOut = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBootstrapBindings(t *testing.T) {
	roles := map[string]string{}
	for _, b := range bootstrapBindings() {
		roles[*b.Name] = *b.RoleRef.Name + " <- " + *b.Subjects[0].Name
	}
	if roles["kubeadm:cluster-admins"] != "cluster-admin <- kubeadm:cluster-admins" {
		t.Errorf("admin.conf's group is not bound to cluster-admin: %v", roles)
	}
	// The apiserver's kubelet client reaches the kubelet API and nothing else
	// (it used to carry the cluster-admins group).
	if roles["kubeadm:apiserver-kubelet-client"] != "system:kubelet-api-admin <- "+APIServerKubeletClientUser {
		t.Errorf("the apiserver's kubelet client is not bound to system:kubelet-api-admin: %v", roles)
	}
	for name, r := range roles {
		if strings.HasSuffix(r, "<- "+APIServerKubeletClientUser) && name != "kubeadm:apiserver-kubelet-client" {
			t.Errorf("the apiserver's kubelet client has another binding %s: %s", name, r)
		}
	}
	if !strings.HasSuffix(roles["kubeadm:node-autoapprove-certificate-rotation"], "<- system:nodes") {
		t.Errorf("kubelet client-certificate rotation is not auto-approved: %v", roles)
	}
}
