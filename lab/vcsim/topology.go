package main

// The topology file and the code that builds it inside the simulator (in process, no HTTP).

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// Topology is the whole simulated inventory.
type Topology struct {
	Datacenters []DatacenterSpec `json:"datacenters"`
}

// DatacenterSpec describes one datacenter. VM folders are slash-separated paths under the
// datacenter's vm folder ("prod/web"); every datastore is mounted on every host.
type DatacenterSpec struct {
	Name       string        `json:"name"`
	Folders    []string      `json:"folders"`
	Networks   []string      `json:"networks"`
	Datastores []string      `json:"datastores"`
	Clusters   []ClusterSpec `json:"clusters"`
	Hosts      []string      `json:"hosts"`
	VMs        []VMSpec      `json:"vms"`
}

// ClusterSpec is a cluster with Hosts hosts (named <cluster>-esx-<n>) and child resource pools.
type ClusterSpec struct {
	Name  string   `json:"name"`
	Hosts int      `json:"hosts"`
	Pools []string `json:"pools"`
}

// VMSpec is one VM, or Count VMs when Count > 0 ("{n}" in Name is replaced by Start..Start+Count-1).
type VMSpec struct {
	Name        string            `json:"name"`
	Count       int               `json:"count"`
	Start       int               `json:"start"`
	Folder      string            `json:"folder"`
	Cluster     string            `json:"cluster"`
	Pool        string            `json:"pool"`
	Host        string            `json:"host"`
	Datastore   string            `json:"datastore"`
	NICs        []NICSpec         `json:"nics"`
	Power       string            `json:"power"`
	Template    bool              `json:"template"`
	Annotation  string            `json:"annotation"`
	Hostname    string            `json:"hostname"`
	ExtraConfig map[string]string `json:"extra_config"`
}

// NICSpec is a network card. IP (or IPBase + n for counted VMs) and IPv6 become the guest's
// addresses when the VM is powered on, as VMware Tools would report them.
type NICSpec struct {
	Network string   `json:"network"`
	IP      string   `json:"ip"`
	IPBase  string   `json:"ip_base"`
	IPv6    []string `json:"ipv6"`
}

type buildCounts struct{ datacenters, hosts, vms, templates int }

func defaultTopology() Topology {
	return Topology{Datacenters: []DatacenterSpec{{
		Name:       "DC1",
		Folders:    []string{"templates", "lab"},
		Networks:   []string{"lab-net"},
		Datastores: []string{"ds1"},
		Clusters:   []ClusterSpec{{Name: "cluster1", Hosts: 2}},
		VMs: []VMSpec{
			{Name: "tpl-linux", Folder: "templates", Power: "off", Template: true,
				NICs: []NICSpec{{Network: "lab-net"}}},
			{Name: "base-{n}", Count: 2, Start: 1, Folder: "lab", Power: "on",
				NICs: []NICSpec{{Network: "lab-net", IPBase: "127.0.10.10"}}},
		},
	}}}
}

type dcState struct {
	dc       *object.Datacenter
	folders  *object.DatacenterFolders
	vmFolder map[string]*object.Folder
	clusters map[string]*object.ClusterComputeResource
	pools    map[string]*object.ResourcePool // "<cluster>/<pool>" and "<cluster>" for the root
	hosts    map[string]*object.HostSystem
	allHosts []*object.HostSystem
	backing  map[string]types.BaseVirtualDeviceBackingInfo
}

func build(ctx context.Context, c *vim25.Client, topo Topology, dataDir string) (buildCounts, error) {
	var counts buildCounts
	root := object.NewRootFolder(c)
	finder := find.NewFinder(c, false)
	for _, spec := range topo.Datacenters {
		st, err := buildDatacenter(ctx, c, root, finder, spec, dataDir)
		if err != nil {
			return counts, fmt.Errorf("datacenter %s: %w", spec.Name, err)
		}
		counts.datacenters++
		counts.hosts += len(st.allHosts)
		for _, vm := range spec.VMs {
			n, err := buildVMs(ctx, c, st, vm)
			if err != nil {
				return counts, fmt.Errorf("vm %s: %w", vm.Name, err)
			}
			if vm.Template {
				counts.templates += n
			} else {
				counts.vms += n
			}
		}
	}
	return counts, nil
}

func buildDatacenter(ctx context.Context, c *vim25.Client, root *object.Folder, finder *find.Finder, spec DatacenterSpec, dataDir string) (*dcState, error) {
	dc, err := root.CreateDatacenter(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, err
	}
	st := &dcState{dc: dc, folders: folders, vmFolder: map[string]*object.Folder{"": folders.VmFolder},
		clusters: map[string]*object.ClusterComputeResource{}, pools: map[string]*object.ResourcePool{},
		hosts: map[string]*object.HostSystem{}, backing: map[string]types.BaseVirtualDeviceBackingInfo{}}

	for _, name := range spec.Hosts {
		task, err := folders.HostFolder.AddStandaloneHost(ctx, types.HostConnectSpec{HostName: name}, true, nil, nil)
		if err != nil {
			return nil, err
		}
		info, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return nil, err
		}
		host := object.NewHostSystem(c, info.Result.(types.ManagedObjectReference))
		st.hosts[name] = host
		st.allHosts = append(st.allHosts, host)
		pool, err := host.ResourcePool(ctx)
		if err != nil {
			return nil, err
		}
		st.pools["host:"+name] = pool
	}
	for _, cs := range spec.Clusters {
		cluster, err := folders.HostFolder.CreateCluster(ctx, cs.Name, types.ClusterConfigSpecEx{})
		if err != nil {
			return nil, err
		}
		st.clusters[cs.Name] = cluster
		for i := 1; i <= cs.Hosts; i++ {
			name := fmt.Sprintf("%s-esx-%d", cs.Name, i)
			task, err := cluster.AddHost(ctx, types.HostConnectSpec{HostName: name}, true, nil, nil)
			if err != nil {
				return nil, err
			}
			info, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return nil, err
			}
			host := object.NewHostSystem(c, info.Result.(types.ManagedObjectReference))
			st.hosts[name] = host
			st.allHosts = append(st.allHosts, host)
		}
		rootPool, err := cluster.ResourcePool(ctx)
		if err != nil {
			return nil, err
		}
		st.pools[cs.Name] = rootPool
		for _, poolName := range cs.Pools {
			pool, err := rootPool.Create(ctx, poolName, types.DefaultResourceConfigSpec())
			if err != nil {
				return nil, err
			}
			st.pools[cs.Name+"/"+poolName] = pool
		}
	}
	if len(st.allHosts) == 0 {
		return nil, fmt.Errorf("needs at least one host or cluster host")
	}

	for _, dsName := range spec.Datastores {
		dir := filepath.Join(dataDir, spec.Name, dsName)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		for _, host := range st.allHosts {
			dss, err := host.ConfigManager().DatastoreSystem(ctx)
			if err != nil {
				return nil, err
			}
			if _, err := dss.CreateLocalDatastore(ctx, dsName, dir); err != nil {
				return nil, err
			}
		}
	}

	if len(spec.Networks) > 0 {
		ns, err := st.allHosts[0].ConfigManager().NetworkSystem(ctx)
		if err != nil {
			return nil, err
		}
		for _, name := range spec.Networks {
			if err := ns.AddPortGroup(ctx, types.HostPortGroupSpec{Name: name, VswitchName: "vSwitch0"}); err != nil {
				return nil, fmt.Errorf("network %s: %w", name, err)
			}
		}
	}

	for _, path := range spec.Folders {
		if _, err := st.folder(ctx, path); err != nil {
			return nil, err
		}
	}
	finder.SetDatacenter(dc)
	for _, name := range append([]string{"VM Network"}, spec.Networks...) {
		ref, err := finder.Network(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", name, err)
		}
		backing, err := ref.EthernetCardBackingInfo(ctx)
		if err != nil {
			return nil, err
		}
		st.backing[name] = backing
	}
	return st, nil
}

// folder returns (creating as needed) the VM folder at a slash-separated path.
func (st *dcState) folder(ctx context.Context, path string) (*object.Folder, error) {
	path = strings.Trim(path, "/")
	if f, ok := st.vmFolder[path]; ok {
		return f, nil
	}
	parentPath, name := "", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		parentPath, name = path[:i], path[i+1:]
	}
	parent, err := st.folder(ctx, parentPath)
	if err != nil {
		return nil, err
	}
	f, err := parent.CreateFolder(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", path, err)
	}
	st.vmFolder[path] = f
	return f, nil
}

func (st *dcState) placement(spec VMSpec) (*object.ResourcePool, *object.HostSystem, error) {
	var host *object.HostSystem
	if spec.Host != "" {
		h, ok := st.hosts[spec.Host]
		if !ok {
			return nil, nil, fmt.Errorf("unknown host %q", spec.Host)
		}
		host = h
		if pool, ok := st.pools["host:"+spec.Host]; ok && spec.Cluster == "" {
			return pool, host, nil
		}
	}
	cluster := spec.Cluster
	if cluster == "" {
		for name := range st.clusters {
			cluster = name
			break
		}
	}
	if cluster == "" {
		for key, pool := range st.pools {
			if strings.HasPrefix(key, "host:") {
				return pool, host, nil
			}
		}
		return nil, nil, fmt.Errorf("no resource pool")
	}
	key := cluster
	if spec.Pool != "" {
		key = cluster + "/" + spec.Pool
	}
	pool, ok := st.pools[key]
	if !ok {
		return nil, nil, fmt.Errorf("unknown cluster or pool %q", key)
	}
	return pool, host, nil
}

func buildVMs(ctx context.Context, c *vim25.Client, st *dcState, spec VMSpec) (int, error) {
	folder, err := st.folder(ctx, spec.Folder)
	if err != nil {
		return 0, err
	}
	pool, host, err := st.placement(spec)
	if err != nil {
		return 0, err
	}
	count, start := 1, spec.Start
	if spec.Count > 0 {
		count = spec.Count
	}
	for i := 0; i < count; i++ {
		n := start + i
		name := strings.Replace(spec.Name, "{n}", strconv.Itoa(n), -1)
		if err := buildVM(ctx, c, st, folder, pool, host, spec, name, i); err != nil {
			return i, fmt.Errorf("%s: %w", name, err)
		}
	}
	return count, nil
}

func buildVM(ctx context.Context, c *vim25.Client, st *dcState, folder *object.Folder, pool *object.ResourcePool,
	host *object.HostSystem, spec VMSpec, name string, index int) error {
	datastore := spec.Datastore
	if datastore == "" {
		datastore = "ds1"
	}
	config := types.VirtualMachineConfigSpec{
		Name:       name,
		GuestId:    string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest),
		Annotation: spec.Annotation,
		Files:      &types.VirtualMachineFileInfo{VmPathName: "[" + datastore + "]"},
	}
	for key, value := range spec.ExtraConfig {
		config.ExtraConfig = append(config.ExtraConfig, &types.OptionValue{Key: key, Value: value})
	}
	var devices object.VirtualDeviceList
	for _, nic := range spec.NICs {
		network := nic.Network
		if network == "" {
			network = "VM Network"
		}
		backing, ok := st.backing[network]
		if !ok {
			return fmt.Errorf("unknown network %q", network)
		}
		card, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
		if err != nil {
			return err
		}
		devices = append(devices, card)
	}
	if len(devices) > 0 {
		var err error
		config.DeviceChange, err = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
		if err != nil {
			return err
		}
	}
	task, err := folder.CreateVM(ctx, config, pool, host)
	if err != nil {
		return err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return err
	}
	ref := info.Result.(types.ManagedObjectReference)
	vm := object.NewVirtualMachine(c, ref)
	if spec.Template {
		if err := vm.MarkAsTemplate(ctx); err != nil {
			return err
		}
		return nil
	}
	if spec.Power == "off" {
		return nil
	}
	task, err = vm.PowerOn(ctx)
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return err
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = name
	}
	return setGuest(ref, spec.NICs, index, hostname)
}

// setGuest reports the NICs' addresses and the host name as VMware Tools would.
func setGuest(ref types.ManagedObjectReference, nics []NICSpec, index int, hostname string) error {
	obj, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return fmt.Errorf("%s is not a VM", ref)
	}
	var err error
	simulator.Map.WithLock(obj, func() {
		netInfo := append([]types.GuestNicInfo(nil), obj.Guest.Net...)
		primary := ""
		for i := range netInfo {
			if i >= len(nics) {
				break
			}
			var addrs []string
			ip := nics[i].IP
			if ip == "" && nics[i].IPBase != "" {
				ip, err = addIP(nics[i].IPBase, index)
				if err != nil {
					return
				}
			}
			if ip != "" {
				addrs = append(addrs, ip)
				if primary == "" {
					primary = ip
				}
			}
			addrs = append(addrs, nics[i].IPv6...)
			if len(addrs) == 0 {
				continue
			}
			netInfo[i].IpAddress = addrs
			cfg := &types.NetIpConfigInfo{}
			for _, a := range addrs {
				prefix := int32(24)
				if strings.Contains(a, ":") {
					prefix = 64
				}
				cfg.IpAddress = append(cfg.IpAddress, types.NetIpConfigInfoIpAddress{
					IpAddress: a, PrefixLength: prefix, State: "preferred"})
			}
			netInfo[i].IpConfig = cfg
		}
		changes := []types.PropertyChange{
			{Name: "guest.net", Val: netInfo},
			{Name: "guest.hostName", Val: hostname},
			{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)},
			{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
		}
		if primary != "" {
			changes = append(changes,
				types.PropertyChange{Name: "guest.ipAddress", Val: primary},
				types.PropertyChange{Name: "summary.guest.ipAddress", Val: primary})
		}
		simulator.Map.Update(obj, changes)
	})
	return err
}

func addIP(base string, offset int) (string, error) {
	ip := net.ParseIP(base).To4()
	if ip == nil {
		return "", fmt.Errorf("ip_base %q is not IPv4", base)
	}
	value := binary.BigEndian.Uint32(ip) + uint32(offset)
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, value)
	return out.String(), nil
}
