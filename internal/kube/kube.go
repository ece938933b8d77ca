// Package kube talks to the cluster through client-go: clients from our
// kubeconfigs and the objects the install itself owns (bootstrap RBAC),
// applied with server-side apply under the field manager "k8s-single" so
// re-runs are no-ops. It does not render files or manage units.
package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// FieldManager names k8s-single in managedFields.
const FieldManager = "k8s-single"

// NewClient builds a clientset from a kubeconfig file.
func NewClient(kubeconfigPath string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfigPath, err)
	}
	cfg.UserAgent = "k8s-single"
	return kubernetes.NewForConfig(cfg)
}

// ClusterAdminsGroup is the group admin.conf's certificate carries (kubeadm's
// split: admin.conf is bound by RBAC and can be revoked; super-admin.conf is
// system:masters and cannot).
const ClusterAdminsGroup = "kubeadm:cluster-admins"

// APIServerKubeletClientUser is the identity (CN, no group) of the
// apiserver's client certificate for the kubelet API; RBAC grants it
// system:kubelet-api-admin and nothing more, as kubeadm now does.
const APIServerKubeletClientUser = "kube-apiserver-kubelet-client"

// bootstrapBindings are the ClusterRoleBindings a fresh control plane needs:
// admin.conf as cluster-admin, the apiserver's kubelet client to the kubelet
// API only, and kubelet client-certificate rotation approved automatically
// for nodes.
func bootstrapBindings() []*rbacac.ClusterRoleBindingApplyConfiguration {
	bind := func(name, role, kind, subject string) *rbacac.ClusterRoleBindingApplyConfiguration {
		return rbacac.ClusterRoleBinding(name).
			WithLabels(map[string]string{"app.kubernetes.io/managed-by": FieldManager}).
			WithRoleRef(rbacac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(role)).
			WithSubjects(rbacac.Subject().WithAPIGroup("rbac.authorization.k8s.io").WithKind(kind).WithName(subject))
	}
	return []*rbacac.ClusterRoleBindingApplyConfiguration{
		bind("kubeadm:cluster-admins", "cluster-admin", "Group", ClusterAdminsGroup),
		bind("kubeadm:apiserver-kubelet-client", "system:kubelet-api-admin", "User", APIServerKubeletClientUser),
		bind("kubeadm:node-autoapprove-certificate-rotation",
			"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "Group", "system:nodes"),
	}
}

// BootstrapRBAC applies the bootstrap bindings; it must run as a
// system:masters identity (super-admin.conf), since admin.conf has no rights
// until the first binding exists.
func BootstrapRBAC(ctx context.Context, cs kubernetes.Interface) error {
	for _, b := range bootstrapBindings() {
		if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, b, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply ClusterRoleBinding %s: %w", *b.Name, err)
		}
	}
	return nil
}
