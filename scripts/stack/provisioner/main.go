// Command provisioner is the local stack's storage: a default StorageClass
// "standard" whose claims get hostPath PersistentVolumes, expanded when a
// claim grows and deleted when released. Without it, no pod with a volume
// (a database) would ever start on the stack; kube-controller-manager's
// PV controller still does the binding, as in any cluster.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

const (
	className   = "standard"
	provisioner = "idp.local/hostpath"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the stack")
	root := flag.String("root", filepath.Join(os.TempDir(), "idp-stack-volumes"), "directory holding the volumes")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for {
		if err := ensureClass(ctx, cs); err != nil {
			log.Printf("storage class: %v", err)
		} else if err := reconcile(ctx, cs, *root); err != nil {
			log.Printf("reconcile: %v", err)
		}
		time.Sleep(time.Second)
	}
}

func ensureClass(ctx context.Context, cs *kubernetes.Clientset) error {
	sc := &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: className, Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:          provisioner,
		AllowVolumeExpansion: ptr.To(true),
		ReclaimPolicy:        ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode:    ptr.To(storagev1.VolumeBindingImmediate),
	}
	_, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func reconcile(ctx context.Context, cs *kubernetes.Clientset, root string) error {
	pvcs, err := cs.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		if ptr.Deref(pvc.Spec.StorageClassName, "") != className || pvc.DeletionTimestamp != nil {
			continue
		}
		if pvc.Spec.VolumeName == "" {
			provision(ctx, cs, pvc, root)
		} else {
			expand(ctx, cs, pvc)
		}
	}
	// Released volumes of deleted claims go, as reclaimPolicy Delete says:
	// only those it provisioned (a volume made by hand in the class may
	// have no hostPath, or one outside root that must not be removed).
	pvs, err := cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pv := range pvs.Items {
		if pv.Spec.StorageClassName == className && pv.Status.Phase == corev1.VolumeReleased &&
			pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete &&
			pv.Annotations["pv.kubernetes.io/provisioned-by"] == provisioner {
			if err := cs.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err == nil {
				if hp := pv.Spec.HostPath; hp != nil && filepath.Dir(hp.Path) == filepath.Clean(root) {
					_ = os.RemoveAll(hp.Path)
				}
				log.Printf("deleted released volume %s", pv.Name)
			}
		}
	}
	return nil
}

func provision(ctx context.Context, cs *kubernetes.Clientset, pvc *corev1.PersistentVolumeClaim, root string) {
	name := "pvc-" + string(pvc.UID)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			StorageClassName:              className,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			ClaimRef:                      &corev1.ObjectReference{Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: filepath.Join(root, name), Type: ptr.To(corev1.HostPathDirectoryOrCreate),
			}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err == nil {
		log.Printf("provisioned %s for %s/%s", name, pvc.Namespace, pvc.Name)
	} else if !apierrors.IsAlreadyExists(err) {
		log.Printf("provisioning %s/%s: %v", pvc.Namespace, pvc.Name, err)
	}
}

// expand grows a bound volume to its claim's request, as an online resize
// by a CSI driver would, and reports the new capacity on the claim.
func expand(ctx context.Context, cs *kubernetes.Clientset, pvc *corev1.PersistentVolumeClaim) {
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	have := pvc.Status.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) <= 0 || pvc.Status.Phase != corev1.ClaimBound {
		return
	}
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil || pv.Spec.StorageClassName != className {
		return
	}
	pv.Spec.Capacity[corev1.ResourceStorage] = want
	if _, err := cs.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		log.Printf("expanding %s: %v", pv.Name, err)
		return
	}
	pvc.Status.Capacity[corev1.ResourceStorage] = want
	pvc.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: want}
	pvc.Status.Conditions = nil
	if _, err := cs.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		log.Printf("expanding %s/%s: %v", pvc.Namespace, pvc.Name, err)
		return
	}
	log.Printf("expanded %s/%s to %s", pvc.Namespace, pvc.Name, want.String())
}
