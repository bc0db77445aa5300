package cli

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/daemon"
)

func newDaemonCommand() *cobra.Command {
	var cfg daemon.Config
	var configFile string
	var liveRestore bool
	cmd := &cobra.Command{
		Use:   "daemon [flags]",
		Short: "Run the engine: serve the Docker Engine API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return errors.New("the daemon needs root: rootless mode is not supported yet; run it as root (sudo gantry daemon)")
			}
			if cmd.Flags().Changed("live-restore") {
				cfg.LiveRestore = &liveRestore
			}
			if configFile != "" {
				if err := daemon.LoadFile(configFile, &cfg); err != nil {
					return err
				}
			}
			return daemon.Run(cmd.Context(), cfg, Version)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataRoot, "data-root", "", "root directory of persistent state (default /var/lib/gantry)")
	f.StringVar(&cfg.ExecRoot, "exec-root", "", "root directory of runtime state: sockets, bundles (default /run/gantry)")
	f.StringArrayVarP(&cfg.Hosts, "host", "H", nil, "address to serve: unix:///path or tcp://127.0.0.1:PORT (default unix:///run/gantry/gantry.sock)")
	f.StringVar(&configFile, "config-file", "", "daemon configuration file, JSON like /etc/docker/daemon.json")
	f.StringVar(&cfg.LogFile, "log-file", "", "write the daemon's log here instead of stderr")
	f.BoolVarP(&cfg.Debug, "debug", "D", false, "enable debug logging")
	f.StringArrayVar(&cfg.InsecureRegistries, "insecure-registry", nil, "registry reached over plain HTTP")
	f.StringVar(&cfg.LogDriver, "log-driver", "", "default log driver for containers (json-file, local, none)")
	f.StringToStringVar(&cfg.LogOpts, "log-opt", nil, "default log driver options")
	f.StringVar(&cfg.CgroupParent, "cgroup-parent", "", "parent cgroup of all containers (default /gantry)")
	f.StringVarP(&cfg.Bridge, "bridge", "b", "", "attach containers to this network bridge (default gantry0; \"none\": no bridge)")
	f.StringVar(&cfg.BIP, "bip", "", "the bridge's IP address and subnet, as 172.30.0.1/16 (default: the first free subnet of the address pools)")
	f.BoolVar(&liveRestore, "live-restore", true, "keep containers running while the daemon is down")
	f.BoolVar(&cfg.TLS.Verify, "tlsverify", false, "require and verify client certificates")
	f.StringVar(&cfg.TLS.CACert, "tlscacert", "", "trust certs signed only by this CA")
	f.StringVar(&cfg.TLS.Cert, "tlscert", "", "path to the TLS certificate file")
	f.StringVar(&cfg.TLS.Key, "tlskey", "", "path to the TLS key file")
	return cmd
}
