package provisioning

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

const mebibyte = 1 << 20

// buildDeployments returns one Deployment per component, sorted by name.
func buildDeployments(w *estatev1.Workload) ([]*appsv1.Deployment, error) {
	cpu, memory, err := perReplicaRequests(w)
	if err != nil {
		return nil, err
	}
	ports := containerPorts(w.Spec.Ports)

	components := append([]estatev1.Component(nil), w.Spec.Components...)
	sort.Slice(components, func(i, j int) bool { return components[i].Name < components[j].Name })

	out := make([]*appsv1.Deployment, 0, len(components))
	for _, c := range components {
		selector := map[string]string{
			LabelWorkload:  w.Name,
			LabelComponent: c.Name,
		}
		// The zone is on the pods, where network policies select it, but
		// not in the selector: a selector cannot change after creation,
		// and a workload may change zone.
		podLabels := map[string]string{
			LabelWorkload:  w.Name,
			LabelComponent: c.Name,
			LabelZone:      w.Spec.Zone,
			LabelManagedBy: ManagedByValue,
		}
		deploymentLabels := mergeLabels(podLabels, nil)

		container := corev1.Container{
			Name:  c.Name,
			Image: c.Image,
			Ports: ports,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    cpu.DeepCopy(),
					corev1.ResourceMemory: memory.DeepCopy(),
				},
				Limits: corev1.ResourceList{
					corev1.ResourceMemory: memory.DeepCopy(),
				},
			},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}

		out = append(out, &appsv1.Deployment{
			TypeMeta:   typeMeta(appsv1.SchemeGroupVersion.String(), "Deployment"),
			ObjectMeta: objectMeta(deploymentName(w, c), w.Namespace, deploymentLabels),
			Spec: appsv1.DeploymentSpec{
				// The API server defaults an omitted replicas field to 1,
				// so 0 here was set on purpose and scales the component down.
				Replicas: ptr.To(c.Replicas),
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				// The namespace quota holds exactly the declared resources,
				// so a surge pod would be rejected: roll by replacing one
				// pod at a time instead.
				// NOTE: a component with one replica is unavailable for the
				// length of each rollout.
				Strategy: appsv1.DeploymentStrategy{
					Type: appsv1.RollingUpdateDeploymentStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDeployment{
						MaxSurge:       ptr.To(intstr.FromInt32(0)),
						MaxUnavailable: ptr.To(intstr.FromInt32(1)),
					},
				},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{container}},
				},
			},
		})
	}
	return out, nil
}

// perReplicaRequests splits the workload's spec.resources evenly across
// every replica of every component. Shares are rounded down, CPU to whole
// millicores and memory to whole mebibytes, so the replicas together never
// request more than the workload declared. It returns an error when a share
// would be below 1m CPU or 1Mi memory.
func perReplicaRequests(w *estatev1.Workload) (cpu, memory resource.Quantity, err error) {
	var replicas int64
	for _, c := range w.Spec.Components {
		replicas += int64(c.Replicas)
	}
	if replicas == 0 {
		// Nothing runs; the pod templates still get the whole amount.
		replicas = 1
	}

	milli := w.Spec.Resources.CPU.MilliValue() / replicas
	if milli < 1 {
		return cpu, memory, fmt.Errorf("spec.resources.cpu %s of workload %s/%s cannot be split across %d replicas with at least 1m each: raise spec.resources.cpu to at least %dm or run fewer replicas",
			w.Spec.Resources.CPU.String(), w.Namespace, w.Name, replicas, replicas)
	}
	mebibytes := w.Spec.Resources.Memory.Value() / replicas / mebibyte
	if mebibytes < 1 {
		return cpu, memory, fmt.Errorf("spec.resources.memory %s of workload %s/%s cannot be split across %d replicas with at least 1Mi each: raise spec.resources.memory to at least %dMi or run fewer replicas",
			w.Spec.Resources.Memory.String(), w.Namespace, w.Name, replicas, replicas)
	}
	return *resource.NewMilliQuantity(milli, resource.DecimalSI), *resource.NewQuantity(mebibytes*mebibyte, resource.BinarySI), nil
}

// containerPorts returns spec.ports as container ports, in spec order.
//
// NOTE: spec.ports belongs to the workload, not to a component, so every
// component's container declares every port and the Service sends traffic
// to the pods of all components.
func containerPorts(ports []estatev1.ServicePort) []corev1.ContainerPort {
	if len(ports) == 0 {
		return nil
	}
	out := make([]corev1.ContainerPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, corev1.ContainerPort{
			Name:          p.Name,
			ContainerPort: p.Port,
			Protocol:      protocol(p.Protocol),
		})
	}
	return out
}

// buildService returns a ClusterIP Service named after the workload that
// exposes spec.ports by name, or nil when the workload serves no ports.
func buildService(w *estatev1.Workload) *corev1.Service {
	if len(w.Spec.Ports) == 0 {
		return nil
	}
	ports := make([]corev1.ServicePort, 0, len(w.Spec.Ports))
	for _, p := range w.Spec.Ports {
		ports = append(ports, corev1.ServicePort{
			Name:       p.Name,
			Protocol:   protocol(p.Protocol),
			Port:       p.Port,
			TargetPort: intstr.FromString(p.Name),
		})
	}
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(w.Name, w.Namespace, workloadLabels(w)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{LabelWorkload: w.Name},
			Ports:    ports,
		},
	}
}

// protocol returns the port's protocol, TCP when unset as the API defaults it.
func protocol(p string) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return corev1.Protocol(p)
}
