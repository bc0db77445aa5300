package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"

	"github.com/gantry-dev/gantry/internal/flagvalue"
)

// containerOptions holds the flags of `run` and `create` that become the
// container's Config, HostConfig and NetworkingConfig. The flags, their
// value syntax and their error texts are the docker CLI's.
type containerOptions struct {
	attach            flagvalue.ListOpts
	volumes           flagvalue.ListOpts
	tmpfs             flagvalue.ListOpts
	mounts            flagvalue.MountOpt
	env               flagvalue.ListOpts
	envFile           flagvalue.ListOpts
	labels            flagvalue.ListOpts
	labelsFile        flagvalue.ListOpts
	devices           flagvalue.ListOpts
	deviceCgroupRules flagvalue.ListOpts
	gpus              flagvalue.GpuOpts
	deviceReadBps     flagvalue.ThrottleDeviceOpt
	deviceWriteBps    flagvalue.ThrottleDeviceOpt
	deviceReadIOps    flagvalue.ThrottleDeviceOpt
	deviceWriteIOps   flagvalue.ThrottleDeviceOpt
	blkioWeightDevice flagvalue.WeightDeviceOpt
	kernelMemory      flagvalue.MemBytes
	ulimits           *flagvalue.UlimitOpt
	sysctls           *flagvalue.MapOpts
	annotations       *flagvalue.MapOpts
	publish           flagvalue.ListOpts
	expose            flagvalue.ListOpts
	dns               flagvalue.ListOpts
	dnsSearch         flagvalue.ListOpts
	dnsOptions        flagvalue.ListOpts
	extraHosts        flagvalue.ListOpts
	volumesFrom       flagvalue.ListOpts
	capAdd            flagvalue.ListOpts
	capDrop           flagvalue.ListOpts
	groupAdd          flagvalue.ListOpts
	securityOpt       flagvalue.ListOpts
	storageOpt        flagvalue.ListOpts
	loggingOpts       flagvalue.ListOpts
	links             flagvalue.ListOpts
	aliases           flagvalue.ListOpts
	linkLocalIPs      flagvalue.ListOpts
	netMode           flagvalue.NetworkOpt

	privileged, publishAll, stdin, tty, oomKillDisable, readonlyRootfs, autoRemove, init, noHealthcheck bool

	pidMode, utsMode, usernsMode, cgroupnsMode, ipcMode, containerIDFile, entrypoint   string
	hostname, domainname, user, workingDir, macAddress, restartPolicy, loggingDriver   string
	cgroupParent, volumeDriver, stopSignal, runtime, healthCmd, cpusetCpus, cpusetMems string

	ipv4Address, ipv6Address net.IP

	oomScoreAdj, stopTimeout, healthRetries                               int
	cpuShares, cpuPeriod, cpuQuota, cpuRealtimePeriod, cpuRealtimeRuntime int64
	pidsLimit, swappiness                                                 int64
	blkioWeight                                                           uint16
	memory, memoryReservation, shmSize                                    flagvalue.MemBytes
	memorySwap                                                            flagvalue.MemSwapBytes
	cpus                                                                  flagvalue.NanoCPUs
	healthInterval, healthTimeout, healthStartPeriod, healthStartInterval time.Duration

	image string
	args  []string
}

// addContainerFlags declares the container flags on flags.
func addContainerFlags(flags *pflag.FlagSet) *containerOptions {
	o := &containerOptions{
		attach:            flagvalue.NewListOpts(validateAttach),
		volumes:           flagvalue.NewListOpts(nil),
		tmpfs:             flagvalue.NewListOpts(nil),
		env:               flagvalue.NewListOpts(flagvalue.ValidateEnv),
		envFile:           flagvalue.NewListOpts(nil),
		labels:            flagvalue.NewListOpts(flagvalue.ValidateLabel),
		labelsFile:        flagvalue.NewListOpts(nil),
		devices:           flagvalue.NewListOpts(nil),
		deviceReadIOps:    flagvalue.NewThrottleDeviceOpt(true),
		deviceWriteIOps:   flagvalue.NewThrottleDeviceOpt(true),
		deviceCgroupRules: flagvalue.NewListOpts(nil),
		ulimits:           flagvalue.NewUlimitOpt(nil),
		sysctls:           flagvalue.NewMapOpts(nil, flagvalue.ValidateSysctl),
		annotations:       flagvalue.NewMapOpts(nil, nil),
		publish:           flagvalue.NewListOpts(nil),
		expose:            flagvalue.NewListOpts(nil),
		dns:               flagvalue.NewListOpts(flagvalue.ValidateIPAddress),
		dnsSearch:         flagvalue.NewListOpts(flagvalue.ValidateDNSSearch),
		dnsOptions:        flagvalue.NewListOpts(nil),
		extraHosts:        flagvalue.NewListOpts(flagvalue.ValidateExtraHost),
		volumesFrom:       flagvalue.NewListOpts(nil),
		capAdd:            flagvalue.NewListOpts(nil),
		capDrop:           flagvalue.NewListOpts(nil),
		groupAdd:          flagvalue.NewListOpts(nil),
		securityOpt:       flagvalue.NewListOpts(nil),
		storageOpt:        flagvalue.NewListOpts(nil),
		loggingOpts:       flagvalue.NewListOpts(nil),
		links:             flagvalue.NewListOpts(flagvalue.ValidateLink),
		aliases:           flagvalue.NewListOpts(nil),
		linkLocalIPs:      flagvalue.NewListOpts(nil),
	}
	f := flags
	// General
	f.VarP(&o.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	f.Var(&o.deviceCgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	f.Var(&o.devices, "device", "Add a host device to the container")
	f.Var(&o.gpus, "gpus", "GPU devices to add to the container ('all' to pass all GPUs)")
	f.VarP(&o.env, "env", "e", "Set environment variables")
	f.Var(&o.envFile, "env-file", "Read in a file of environment variables")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	f.Var(&o.groupAdd, "group-add", "Add additional groups to join")
	f.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	f.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	f.BoolVarP(&o.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.VarP(&o.labels, "label", "l", "Set meta data on a container")
	f.Var(&o.labelsFile, "label-file", "Read in a line delimited file of labels")
	f.BoolVar(&o.readonlyRootfs, "read-only", false, "Mount the container's root filesystem as read only")
	f.StringVar(&o.restartPolicy, "restart", string(container.RestartPolicyDisabled), "Restart policy to apply when a container exits")
	f.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	f.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	f.Var(o.sysctls, "sysctl", "Sysctl options")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.Var(o.ulimits, "ulimit", "Ulimit options")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&o.workingDir, "workdir", "w", "", "Working directory inside the container")
	f.BoolVar(&o.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	// Security
	f.Var(&o.capAdd, "cap-add", "Add Linux capabilities")
	f.Var(&o.capDrop, "cap-drop", "Drop Linux capabilities")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	f.Var(&o.securityOpt, "security-opt", "Security Options")
	f.StringVar(&o.usernsMode, "userns", "", "User namespace to use")
	f.StringVar(&o.cgroupnsMode, "cgroupns", "", "Cgroup namespace to use (host|private)")
	// Network
	f.Var(&o.extraHosts, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	f.Var(&o.dns, "dns", "Set custom DNS servers")
	f.Var(&o.dnsOptions, "dns-option", "Set DNS options")
	f.Var(&o.dnsOptions, "dns-opt", "Set DNS options")
	_ = f.MarkHidden("dns-opt")
	f.Var(&o.dnsSearch, "dns-search", "Set custom DNS search domains")
	f.Var(&o.expose, "expose", "Expose a port or a range of ports")
	f.IPVar(&o.ipv4Address, "ip", nil, "IPv4 address (e.g., 172.30.100.104)")
	f.IPVar(&o.ipv6Address, "ip6", nil, "IPv6 address (e.g., 2001:db8::33)")
	f.Var(&o.links, "link", "Add link to another container")
	f.Var(&o.linkLocalIPs, "link-local-ip", "Container IPv4/IPv6 link-local addresses")
	f.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	f.VarP(&o.publish, "publish", "p", "Publish a container's port(s) to the host")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	f.Var(&o.netMode, "network", "Connect a container to a network")
	f.Var(&o.netMode, "net", "Connect a container to a network")
	_ = f.MarkHidden("net")
	f.Var(&o.aliases, "network-alias", "Add network-scoped alias for the container")
	f.Var(&o.aliases, "net-alias", "Add network-scoped alias for the container")
	_ = f.MarkHidden("net-alias")
	// Logging and storage
	f.StringVar(&o.loggingDriver, "log-driver", "", "Logging driver for the container")
	f.StringVar(&o.volumeDriver, "volume-driver", "", "Optional volume driver for the container")
	f.Var(&o.loggingOpts, "log-opt", "Log driver options")
	f.Var(&o.storageOpt, "storage-opt", "Storage driver options for the container")
	f.Var(&o.tmpfs, "tmpfs", "Mount a tmpfs directory")
	f.Var(&o.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	f.VarP(&o.volumes, "volume", "v", "Bind mount a volume")
	f.Var(&o.mounts, "mount", "Attach a filesystem mount to the container")
	// Health
	f.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	f.DurationVar(&o.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	f.IntVar(&o.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	f.DurationVar(&o.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthStartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	f.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	// Resources
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	f.StringVar(&o.containerIDFile, "cidfile", "", "Write the container ID to the file")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&o.cpuRealtimePeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	f.Int64Var(&o.cpuRealtimeRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	f.Int64Var(&o.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	f.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	f.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.Var(&o.deviceReadBps, "device-read-bps", "Limit read rate (bytes per second) from a device")
	f.Var(&o.deviceWriteBps, "device-write-bps", "Limit write rate (bytes per second) to a device")
	f.Var(&o.deviceReadIOps, "device-read-iops", "Limit read rate (IO per second) from a device")
	f.Var(&o.deviceWriteIOps, "device-write-iops", "Limit write rate (IO per second) to a device")
	f.Var(&o.blkioWeightDevice, "blkio-weight-device", "Block IO weight (relative device weight)")
	f.Var(&o.kernelMemory, "kernel-memory", "Kernel memory limit (no longer supported)")
	// Low-level execution
	f.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	f.StringVar(&o.ipcMode, "ipc", "", "IPC mode to use")
	f.StringVar(&o.pidMode, "pid", "", "PID namespace to use")
	f.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	f.StringVar(&o.utsMode, "uts", "", "UTS namespace to use")
	f.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	f.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	f.Var(o.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
	return o
}

func validateAttach(val string) (string, error) {
	s := strings.ToLower(val)
	switch s {
	case "stdin", "stdout", "stderr":
		return s, nil
	}
	return val, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

// containerConfig is what `create` sends.
type containerConfig struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// parse turns the flags into the create request. Every invalid value is
// refused here, before any request.
func (o *containerOptions) parse(flags *pflag.FlagSet) (*containerConfig, error) {
	attachStdin, attachStdout, attachStderr := o.attach.Get("stdin"), o.attach.Get("stdout"), o.attach.Get("stderr")
	if o.macAddress != "" {
		if _, err := net.ParseMAC(strings.TrimSpace(o.macAddress)); err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", o.macAddress)
		}
	}
	if o.stdin {
		attachStdin = true
	}
	if o.attach.Len() == 0 {
		attachStdout, attachStderr = true, true
	}
	if o.kernelMemory != 0 {
		return nil, errors.New("--kernel-memory is not supported: kernel memory limits were deprecated in Linux 5.4 and are ignored by Docker since API v1.42; --memory counts kernel memory too")
	}
	if o.swappiness != -1 && (o.swappiness < 0 || o.swappiness > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", o.swappiness)
	}

	// -v: a source makes a bind (a path) or a named volume, both in
	// Binds; a target alone is an anonymous volume in Config.Volumes.
	var binds []string
	volumes := map[string]struct{}{}
	for _, spec := range o.volumes.GetSlice() {
		source, rest, err := parseVolumeSpec(spec)
		if err != nil {
			return nil, err
		}
		if source == "" {
			volumes[spec] = struct{}{}
			continue
		}
		if strings.HasPrefix(source, ".") {
			if abs, err := filepath.Abs(source); err == nil {
				source = abs
			}
		}
		binds = append(binds, source+":"+rest)
	}

	tmpfs := map[string]string{}
	for _, t := range o.tmpfs.GetSlice() {
		k, v, _ := strings.Cut(t, ":")
		tmpfs[k] = v
	}

	var entrypoint []string
	if o.entrypoint != "" {
		entrypoint = []string{o.entrypoint}
	} else if flags.Changed("entrypoint") {
		entrypoint = []string{""} // --entrypoint= resets the image's
	}

	exposed, bindings, err := parsePublish(o.publish.GetSlice())
	if err != nil {
		return nil, err
	}
	for _, e := range o.expose.GetSlice() {
		pr, err := network.ParsePortRange(e)
		if err != nil {
			return nil, fmt.Errorf("invalid range format for --expose: %w", err)
		}
		for p := range pr.All() {
			exposed[p] = struct{}{}
		}
	}

	var devices []container.DeviceMapping
	for _, d := range o.devices.GetSlice() {
		m, err := parseDevice(d)
		if err != nil {
			return nil, err
		}
		devices = append(devices, m)
	}

	env, err := flagvalue.ReadKVEnvStrings(o.envFile.GetSlice(), o.env.GetSlice())
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	labels, err := flagvalue.ReadKVStrings(o.labelsFile.GetSlice(), o.labels.GetSlice())
	if err != nil {
		return nil, fmt.Errorf("--label-file: %w", err)
	}

	pidMode := container.PidMode(o.pidMode)
	if !pidMode.Valid() {
		return nil, errors.New("--pid: invalid PID mode")
	}
	utsMode := container.UTSMode(o.utsMode)
	if !utsMode.Valid() {
		return nil, errors.New("--uts: invalid UTS mode")
	}
	usernsMode := container.UsernsMode(o.usernsMode)
	if !usernsMode.Valid() {
		return nil, errors.New("--userns: invalid USER mode")
	}
	cgroupnsMode := container.CgroupnsMode(o.cgroupnsMode)
	if !cgroupnsMode.Valid() {
		return nil, errors.New("--cgroupns: invalid CGROUP mode")
	}
	restart, err := flagvalue.ParseRestartPolicy(o.restartPolicy)
	if err != nil {
		return nil, err
	}
	// The docker CLI leaves this to the daemon; checking here fails
	// before any request, with the daemon's words.
	if err := container.ValidateRestartPolicy(restart); err != nil && restart.Name != "on-unhealthy" {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "or 'unless-stopped'", "'unless-stopped', or 'on-unhealthy'"))
	}
	logOpts := flagvalue.ConvertKVStringsToMap(o.loggingOpts.GetSlice())
	if o.loggingDriver == "none" && o.loggingOpts.Len() > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", o.loggingDriver)
	}
	securityOpts, err := parseSecurityOpts(o.securityOpt.GetSlice())
	if err != nil {
		return nil, err
	}
	securityOpts, maskedPaths, readonlyPaths := parseSystemPaths(securityOpts)
	storageOpts := map[string]string{}
	for _, s := range o.storageOpt.GetSlice() {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, errors.New("invalid storage option")
		}
		storageOpts[k] = v
	}
	health, err := o.healthConfig()
	if err != nil {
		return nil, err
	}

	deviceRequests := o.gpus.Value()
	resources := container.Resources{
		CgroupParent:       o.cgroupParent,
		Memory:             o.memory.Value(),
		MemoryReservation:  o.memoryReservation.Value(),
		MemorySwap:         o.memorySwap.Value(),
		MemorySwappiness:   &o.swappiness,
		OomKillDisable:     &o.oomKillDisable,
		NanoCPUs:           o.cpus.Value(),
		CPUShares:          o.cpuShares,
		CPUPeriod:          o.cpuPeriod,
		CpusetCpus:         o.cpusetCpus,
		CpusetMems:         o.cpusetMems,
		CPUQuota:           o.cpuQuota,
		CPURealtimePeriod:  o.cpuRealtimePeriod,
		CPURealtimeRuntime: o.cpuRealtimeRuntime,
		PidsLimit:          &o.pidsLimit,
		BlkioWeight:        o.blkioWeight,
		Ulimits:            o.ulimits.GetList(),
		DeviceCgroupRules:  o.deviceCgroupRules.GetSlice(),
		Devices:            devices,
		DeviceRequests:     deviceRequests,

		BlkioWeightDevice:    o.blkioWeightDevice.GetList(),
		BlkioDeviceReadBps:   o.deviceReadBps.GetList(),
		BlkioDeviceWriteBps:  o.deviceWriteBps.GetList(),
		BlkioDeviceReadIOps:  o.deviceReadIOps.GetList(),
		BlkioDeviceWriteIOps: o.deviceWriteIOps.GetList(),
	}
	config := &container.Config{
		Hostname:     o.hostname,
		Domainname:   o.domainname,
		ExposedPorts: exposed,
		User:         o.user,
		Tty:          o.tty,
		OpenStdin:    o.stdin,
		AttachStdin:  attachStdin,
		AttachStdout: attachStdout,
		AttachStderr: attachStderr,
		Env:          env,
		Cmd:          o.args,
		Image:        o.image,
		Volumes:      volumes,
		Entrypoint:   entrypoint,
		WorkingDir:   o.workingDir,
		Labels:       flagvalue.ConvertKVStringsToMap(labels),
		StopSignal:   o.stopSignal,
		Healthcheck:  health,
	}
	if flags.Changed("stop-timeout") {
		t := o.stopTimeout
		config.StopTimeout = &t
	}
	host := &container.HostConfig{
		Binds:           binds,
		ContainerIDFile: o.containerIDFile,
		OomScoreAdj:     o.oomScoreAdj,
		AutoRemove:      o.autoRemove,
		Privileged:      o.privileged,
		PortBindings:    bindings,
		Links:           o.links.GetSlice(),
		PublishAllPorts: o.publishAll,
		DNS:             netipAddrs(o.dns.GetAllOrEmpty()),
		DNSSearch:       o.dnsSearch.GetAllOrEmpty(),
		DNSOptions:      o.dnsOptions.GetAllOrEmpty(),
		ExtraHosts:      o.extraHosts.GetSlice(),
		VolumesFrom:     o.volumesFrom.GetSlice(),
		IpcMode:         container.IpcMode(o.ipcMode),
		NetworkMode:     container.NetworkMode(o.netMode.NetworkMode()),
		PidMode:         pidMode,
		UTSMode:         utsMode,
		UsernsMode:      usernsMode,
		CgroupnsMode:    cgroupnsMode,
		CapAdd:          o.capAdd.GetSlice(),
		CapDrop:         o.capDrop.GetSlice(),
		GroupAdd:        o.groupAdd.GetSlice(),
		RestartPolicy:   restart,
		SecurityOpt:     securityOpts,
		StorageOpt:      storageOpts,
		ReadonlyRootfs:  o.readonlyRootfs,
		LogConfig:       container.LogConfig{Type: o.loggingDriver, Config: logOpts},
		VolumeDriver:    o.volumeDriver,
		ShmSize:         o.shmSize.Value(),
		Resources:       resources,
		Tmpfs:           tmpfs,
		Sysctls:         o.sysctls.GetAll(),
		Runtime:         o.runtime,
		Mounts:          o.mounts.Value(),
		MaskedPaths:     maskedPaths,
		ReadonlyPaths:   readonlyPaths,
		Annotations:     o.annotations.GetAll(),
	}
	if o.autoRemove && !host.RestartPolicy.IsNone() {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	if flags.Changed("init") {
		v := o.init
		host.Init = &v
	}
	// Attached stdin closes when the client goes away.
	if config.OpenStdin && config.AttachStdin {
		config.StdinOnce = true
	}
	endpoints, err := o.endpoints()
	if err != nil {
		return nil, err
	}
	return &containerConfig{Config: config, HostConfig: host, NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: endpoints}}, nil
}

func (o *containerOptions) healthConfig() (*container.HealthConfig, error) {
	have := o.healthCmd != "" || o.healthInterval != 0 || o.healthTimeout != 0 ||
		o.healthStartPeriod != 0 || o.healthRetries != 0 || o.healthStartInterval != 0
	if o.noHealthcheck {
		if have {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !have {
		return nil, nil
	}
	for _, c := range []struct {
		name string
		neg  bool
	}{
		{"--health-interval", o.healthInterval < 0},
		{"--health-timeout", o.healthTimeout < 0},
		{"--health-retries", o.healthRetries < 0},
		{"--health-start-period", o.healthStartPeriod < 0},
		{"--health-start-interval", o.healthStartInterval < 0},
	} {
		if c.neg {
			return nil, fmt.Errorf("%s cannot be negative", c.name)
		}
	}
	var probe []string
	if o.healthCmd != "" {
		probe = []string{"CMD-SHELL", o.healthCmd}
	}
	return &container.HealthConfig{
		Test: probe, Interval: o.healthInterval, Timeout: o.healthTimeout,
		StartPeriod: o.healthStartPeriod, StartInterval: o.healthStartInterval, Retries: o.healthRetries,
	}, nil
}

// parseVolumeSpec splits `[source:]target[:options]` as the docker CLI
// reads it on Linux; rest is what follows the source.
func parseVolumeSpec(spec string) (source, rest string, err error) {
	if spec == "" {
		return "", "", errors.New("invalid empty volume spec")
	}
	parts := strings.Split(spec, ":")
	for _, p := range parts {
		if p == "" {
			return "", "", fmt.Errorf("invalid spec: %s: empty section between colons", spec)
		}
	}
	switch len(parts) {
	case 1:
		return "", spec, nil
	case 2, 3:
		return parts[0], strings.Join(parts[1:], ":"), nil
	}
	return "", "", fmt.Errorf("invalid spec: %s: too many colons", spec)
}

// parsePublish reads -p values (`[ip:][hostPort:]containerPort[/proto]`
// and the `published=,target=` form) into exposed ports and bindings.
func parsePublish(specs []string) (network.PortSet, network.PortMap, error) {
	var std []string
	for _, p := range specs {
		if !strings.Contains(p, "=") {
			std = append(std, p)
			continue
		}
		params := map[string]string{"protocol": "tcp"}
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, nil, fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", kv)
			}
			params[k] = v
		}
		std = append(std, fmt.Sprintf("%s:%s/%s", params["published"], params["target"], params["protocol"]))
	}
	natPorts, natBindings, err := nat.ParsePortSpecs(std)
	if err != nil {
		return nil, nil, err
	}
	exposed := network.PortSet{}
	for p := range natPorts {
		port, err := network.ParsePort(string(p))
		if err != nil {
			return nil, nil, err
		}
		exposed[port] = struct{}{}
	}
	bindings := network.PortMap{}
	for p, bs := range natBindings {
		port, err := network.ParsePort(string(p))
		if err != nil {
			return nil, nil, err
		}
		list := []network.PortBinding{}
		for _, b := range bs {
			var ip netip.Addr
			if b.HostIP != "" {
				if ip, err = netip.ParseAddr(b.HostIP); err != nil {
					return nil, nil, err
				}
			}
			list = append(list, network.PortBinding{HostIP: ip, HostPort: b.HostPort})
		}
		bindings[port] = list
	}
	return exposed, bindings, nil
}

// parseDevice reads `host[:container][:permissions]`.
func parseDevice(spec string) (container.DeviceMapping, error) {
	if strings.Count(spec, ":") > 2 || strings.HasPrefix(spec, ":") {
		return container.DeviceMapping{}, fmt.Errorf("bad format for path: %s", spec)
	}
	parts := strings.Split(spec, ":")
	m := container.DeviceMapping{PathOnHost: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 3:
		if !validDeviceMode(parts[2]) {
			return m, fmt.Errorf("bad mode specified: %s", parts[2])
		}
		m.PathInContainer, m.CgroupPermissions = parts[1], parts[2]
	case 2:
		if validDeviceMode(parts[1]) {
			m.CgroupPermissions = parts[1]
		} else {
			m.PathInContainer = parts[1]
		}
	}
	if m.PathInContainer == "" {
		m.PathInContainer = m.PathOnHost
	}
	if !path.IsAbs(m.PathInContainer) {
		return m, fmt.Errorf("%s is not an absolute path", m.PathInContainer)
	}
	m.PathInContainer = path.Clean(m.PathInContainer)
	return m, nil
}

func validDeviceMode(mode string) bool {
	if mode == "" {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if (c != 'r' && c != 'w' && c != 'm') || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// parseSecurityOpts checks `key=value` (or `key:value`) options and reads
// a seccomp profile given as a file, as the daemon wants its content.
func parseSecurityOpts(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, opt := range list {
		k, v, ok := strings.Cut(opt, "=")
		if !ok && k != "no-new-privileges" {
			k, v, ok = strings.Cut(opt, ":")
		}
		if (!ok || v == "") && k != "no-new-privileges" {
			return nil, fmt.Errorf("invalid --security-opt: %q", opt)
		}
		if k == "seccomp" && v != "builtin" && v != "unconfined" {
			data, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			var b bytes.Buffer
			if err := json.Compact(&b, data); err != nil {
				return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
			}
			opt = "seccomp=" + b.String()
		}
		out = append(out, opt)
	}
	return out, nil
}

// parseSystemPaths handles `systempaths=unconfined` on the client, as the
// docker CLI does: empty masked and read-only path lists.
func parseSystemPaths(list []string) (filtered, masked, readonly []string) {
	for _, opt := range list {
		if opt == "systempaths=unconfined" {
			masked, readonly = []string{}, []string{}
			continue
		}
		filtered = append(filtered, opt)
	}
	return filtered, masked, readonly
}

func netipAddrs(list []string) []netip.Addr {
	if len(list) == 0 {
		return nil
	}
	out := make([]netip.Addr, 0, len(list))
	for _, s := range list {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// endpoints builds the per-network endpoint settings from --network and
// the flags that apply to the first network (--ip, --network-alias, ...).
func (o *containerOptions) endpoints() (map[string]*network.EndpointSettings, error) {
	nets := o.netMode.Value()
	out := map[string]*network.EndpointSettings{}
	if len(nets) == 0 {
		nets = []flagvalue.NetworkAttachmentOpts{{Target: "default"}}
	}
	userDefined, builtin := false, false
	for i, n := range nets {
		if container.NetworkMode(n.Target).IsUserDefined() {
			userDefined = true
		} else {
			builtin = true
		}
		if i == 0 {
			if err := o.applyFirstNetwork(&n); err != nil {
				return nil, err
			}
		}
		ep, err := endpointSettings(n)
		if err != nil {
			return nil, err
		}
		if _, dup := out[n.Target]; dup {
			return nil, fmt.Errorf("network %q is specified multiple times", n.Target)
		}
		// One network without options: the daemon makes the endpoint.
		if i == 0 && len(o.netMode.Value()) == 1 && isZeroEndpoint(ep) {
			continue
		}
		out[n.Target] = ep
	}
	if userDefined && builtin {
		return nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return out, nil
}

func isZeroEndpoint(ep *network.EndpointSettings) bool {
	return ep.IPAMConfig == nil && len(ep.Links) == 0 && len(ep.Aliases) == 0 && len(ep.DriverOpts) == 0 &&
		len(ep.MacAddress) == 0 && ep.GwPriority == 0
}

func (o *containerOptions) applyFirstNetwork(n *flagvalue.NetworkAttachmentOpts) error {
	conflict := func(what string) error { return fmt.Errorf("conflicting options: cannot specify both %s", what) }
	switch {
	case len(n.Aliases) > 0 && o.aliases.Len() > 0:
		return conflict("--network-alias and per-network alias")
	case len(n.Links) > 0 && o.links.Len() > 0:
		return conflict("--link and per-network links")
	case n.IPv4Address.IsValid() && o.ipv4Address != nil:
		return conflict("--ip and per-network IPv4 address")
	case n.IPv6Address.IsValid() && o.ipv6Address != nil:
		return conflict("--ip6 and per-network IPv6 address")
	case n.MacAddress != "" && o.macAddress != "":
		return conflict("--mac-address and per-network MAC address")
	case len(n.LinkLocalIPs) > 0 && o.linkLocalIPs.Len() > 0:
		return conflict("--link-local-ip and per-network link-local IP addresses")
	}
	if o.aliases.Len() > 0 {
		n.Aliases = append([]string(nil), o.aliases.GetSlice()...)
	}
	if container.NetworkMode(n.Target).IsUserDefined() && o.links.Len() > 0 {
		n.Links = append([]string(nil), o.links.GetSlice()...)
	}
	if o.ipv4Address != nil {
		if a, ok := netip.AddrFromSlice(o.ipv4Address.To4()); ok {
			n.IPv4Address = a
		}
	}
	if o.ipv6Address != nil {
		if a, ok := netip.AddrFromSlice(o.ipv6Address.To16()); ok {
			n.IPv6Address = a
		}
	}
	if o.macAddress != "" {
		n.MacAddress = o.macAddress
	}
	if o.linkLocalIPs.Len() > 0 {
		n.LinkLocalIPs = netipAddrs(o.linkLocalIPs.GetSlice())
	}
	return nil
}

func endpointSettings(n flagvalue.NetworkAttachmentOpts) (*network.EndpointSettings, error) {
	if strings.TrimSpace(n.Target) == "" {
		return nil, errors.New("no name set for network")
	}
	if !container.NetworkMode(n.Target).IsUserDefined() {
		if len(n.Aliases) > 0 {
			return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
		}
		if len(n.Links) > 0 {
			return nil, errors.New("links are only supported for user-defined networks")
		}
	}
	ep := &network.EndpointSettings{GwPriority: n.GwPriority, Aliases: n.Aliases, Links: n.Links}
	if len(n.DriverOpts) > 0 {
		ep.DriverOpts = n.DriverOpts
	}
	if n.IPv4Address.IsValid() || n.IPv6Address.IsValid() || len(n.LinkLocalIPs) > 0 {
		ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: n.IPv4Address, IPv6Address: n.IPv6Address, LinkLocalIPs: n.LinkLocalIPs}
	}
	if n.MacAddress != "" {
		mac, err := net.ParseMAC(strings.TrimSpace(n.MacAddress))
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", n.MacAddress)
		}
		ep.MacAddress = network.HardwareAddr(mac)
	}
	return ep, nil
}
