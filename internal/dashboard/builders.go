package dashboard

import (
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/k8s-single/k8s-single/internal/kube"
)

// labelManagedBy marks every object k8s-single deploys; Remove deletes only
// objects that carry it.
const labelManagedBy = "app.kubernetes.io/managed-by"

// objectMeta names an object and labels it as k8s-single's.
func objectMeta(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	l := map[string]string{labelManagedBy: kube.FieldManager}
	maps.Copy(l, labels)
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: l}
}

// namespace is a UI's namespace; the "restricted" Pod Security Standard is
// enforced in it, which every pod here meets.
func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: objectMeta(name, "", map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	})}
}

func serviceAccount(name, namespace string, labels map[string]string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: objectMeta(name, namespace, labels)}
}

// clusterRoleBinding binds a ClusterRole cluster-wide to a ServiceAccount.
func clusterRoleBinding(name, role string, sa *corev1.ServiceAccount) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: objectMeta(name, "", sa.Labels),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}},
	}
}

// adminObjects are the login identity: dashboard-admin, bound cluster-wide to
// role. No pod runs as it, so it mounts no token; users mint theirs.
func adminObjects(ui UI, role string) []runtime.Object {
	sa := serviceAccount(AdminServiceAccount, ui.Namespace, nil)
	sa.AutomountServiceAccountToken = ptr.To(false)
	return []runtime.Object{sa, clusterRoleBinding(AdminBinding(ui), role, sa)}
}

// AdminBinding names the ClusterRoleBinding of ui's dashboard-admin; the
// kind in the name keeps two kinds' bindings apart while one replaces the other.
func AdminBinding(ui UI) string { return ui.Kind + ":" + AdminServiceAccount }

// tlsSecret holds the serving certificate and key in the UI's namespace.
func tlsSecret(namespace string, cert, key []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: objectMeta(TLSSecret, namespace, nil),
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key},
	}
}

// httpsPortName names the UI container's port and the Service's.
const httpsPortName = "https"

// nodePortService exposes the UI's HTTPS port on NodePort of every node
// address. It is the UI's only way in, and it speaks only TLS.
func nodePortService(ui UI, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: objectMeta(ui.Service, ui.Namespace, selector),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: selector,
			Ports: []corev1.ServicePort{{
				Name: httpsPortName, Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("https"),
				Port: 443, TargetPort: intstr.FromString(httpsPortName), NodePort: NodePort,
			}},
		},
	}
}

// The tmp and TLS volumes of the UI pods.
const (
	tmpVolume = "tmp"
	tlsVolume = "tls"
)

// uiContainer is a UI's container: HTTPS on port with the TLS Secret mounted
// read-only at certDir, probed over HTTPS, hardened, with a writable /tmp.
// A startup probe, every second, holds back the readiness and liveness probes
// until the UI listens: without it the first readiness probe meets "connection
// refused" and leaves a warning event on every install.
func uiContainer(name, image string, port int32, certDir string, uid, gid int64, args ...string) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            args,
		Ports:           []corev1.ContainerPort{{Name: httpsPortName, ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		StartupProbe:    startupProbe(corev1.URISchemeHTTPS, httpsPortName),
		LivenessProbe:   probe(corev1.URISchemeHTTPS, httpsPortName, 10),
		ReadinessProbe:  probe(corev1.URISchemeHTTPS, httpsPortName, 0),
		Resources:       resources("50m", "64Mi", "256Mi"),
		SecurityContext: hardened(uid, gid),
		VolumeMounts: []corev1.VolumeMount{
			{Name: tlsVolume, MountPath: certDir, ReadOnly: true},
			{Name: tmpVolume, MountPath: "/tmp"},
		},
	}
}

// probe GETs / on a named port; a liveness probe waits initialDelay seconds.
func probe(scheme corev1.URIScheme, port string, initialDelay int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString(port), Scheme: scheme}},
		InitialDelaySeconds: initialDelay,
		PeriodSeconds:       10,
		TimeoutSeconds:      5,
	}
}

// startupProbe GETs / on a named port every second from three seconds after
// the start (Headlamp v0.45.0 does not listen yet after one), for up to two
// minutes (a slow node, an emulated VM); the kubelet runs the readiness probe
// as soon as it succeeds. The dashboard phase runs beside the add-ons, so the
// delay is not on `up`'s critical path.
func startupProbe(scheme corev1.URIScheme, port string) *corev1.Probe {
	p := probe(scheme, port, 3)
	p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold = 1, 1, 120
	return p
}

// resources requests cpu and memory and caps memory.
func resources(cpu, memory, memoryLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memoryLimit)},
	}
}

// hardened is a container security context that meets the "restricted" Pod
// Security Standard: a fixed non-root user, a read-only root file system, no
// privilege escalation, no capabilities, the runtime's default seccomp profile.
func hardened(uid, gid int64) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To(uid),
		RunAsGroup:               ptr.To(gid),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// controlPlaneToleration lets a pod onto the single node when it carries
// kubeadm's control-plane taint (the node phase removes it, a user may put it back).
var controlPlaneToleration = corev1.Toleration{
	Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
}

// podSpec runs containers as serviceAccount on a Linux node, with the
// volumes they mount: an emptyDir for /tmp and, when withTLS, the TLS Secret
// readable by fsGroup only.
func podSpec(serviceAccount string, fsGroup int64, withTLS bool, tolerations []corev1.Toleration, containers ...corev1.Container) corev1.PodSpec {
	volumes := []corev1.Volume{{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if withTLS {
		volumes = append(volumes, corev1.Volume{Name: tlsVolume, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: TLSSecret, DefaultMode: ptr.To[int32](0o440)},
		}})
	}
	return corev1.PodSpec{
		ServiceAccountName: serviceAccount,
		SecurityContext:    &corev1.PodSecurityContext{FSGroup: ptr.To(fsGroup)},
		NodeSelector:       map[string]string{corev1.LabelOSStable: "linux"},
		Tolerations:        tolerations,
		Containers:         containers,
		Volumes:            volumes,
	}
}

// deployment runs one replica of spec, its pods labelled selector.
func deployment(name, namespace string, selector, podAnnotations map[string]string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: objectMeta(name, namespace, selector),
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To[int32](1),
			RevisionHistoryLimit: ptr.To[int32](10),
			Selector:             &metav1.LabelSelector{MatchLabels: selector},
			Strategy:             appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector, Annotations: podAnnotations},
				Spec:       spec,
			},
		},
	}
}
