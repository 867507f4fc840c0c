//! The variants measured side by side, and how each one is started.

use std::path::PathBuf;

/// One way of doing the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Variant {
    /// Upstream's tender with a unikernel built by upstream's toolchain.
    Upstream,
    /// Our tender, classic hypercall path forced (`--classic`).
    Classic,
    /// Our tender, rings under the unchanged classic API (the sync shim).
    Shim,
    /// Our tender, the ring API used directly.
    RingApi,
    /// A host program doing the same tap or file work, no guest.
    Ceiling,
    /// `solo5-muen-runner` (fast mode) with the bench unikernel built for
    /// muen, the classic API through the sync shim over Muen's channels.
    MuenShim,
    /// `solo5-muen-runner` (fast mode), the ring API over Muen's channels.
    MuenRingApi,
}

impl Variant {
    /// The label in the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Classic => "ours, classic",
            Self::Shim => "ours, rings (sync shim)",
            Self::RingApi => "ours, ring API",
            Self::Ceiling => "host ceiling",
            Self::MuenShim => "muen runner, classic API over channels",
            Self::MuenRingApi => "muen runner, ring API",
        }
    }

    /// The `API` argument of the bench unikernel.
    pub fn api(self) -> &'static str {
        if self.ring_api() {
            "ring"
        } else {
            "classic"
        }
    }

    /// Whether the bench unikernel uses the ring API.
    pub fn ring_api(self) -> bool {
        matches!(self, Self::RingApi | Self::MuenRingApi)
    }

    /// Whether it runs in `solo5-muen-runner`.
    pub fn is_muen(self) -> bool {
        matches!(self, Self::MuenShim | Self::MuenRingApi)
    }

    /// The variant its ratios are taken against: ours, classic, for hvt's
    /// and spt's variants; hvt's counterpart (same API, hvt's rings) for the
    /// muen runner's.
    pub fn baseline(self) -> Self {
        match self {
            Self::MuenShim => Self::Shim,
            Self::MuenRingApi => Self::RingApi,
            _ => Self::Classic,
        }
    }
}

/// Where the tenders and the bench unikernels are.
pub struct Binaries {
    /// Our tender.
    pub ours: String,
    /// The bench unikernel built with our bindings.
    pub ours_kernel: PathBuf,
    /// Upstream's tender and the bench unikernel built by upstream.
    pub upstream: Option<(String, PathBuf)>,
    /// The smoltcp unikernel (`rust-tcp`) for the TCP workloads.
    pub tcp_kernel: PathBuf,
    /// Whether upstream's tender runs `tcp_kernel` (spt: it runs our spt
    /// binaries on the classic system calls; hvt: it cannot start ours).
    pub upstream_runs_tcp: bool,
    /// The TCP workloads' unikernel for upstream's tender, if not
    /// `tcp_kernel` (an older tree's build: before and after in one run).
    pub upstream_tcp_kernel: Option<PathBuf>,
    /// `solo5-muen-runner` and the bench unikernel built for muen
    /// (`--target muen`).
    pub muen: Option<(String, PathBuf)>,
}

/// The harness's devices.
pub struct Devices {
    /// The tap the guest gets as `service0`.
    pub tap: String,
    /// The block file the guest gets as `storage`.
    pub image: PathBuf,
    /// Its sector size.
    pub sector: u64,
    /// The tap the TCP workloads' guest gets as `service0`; the host's
    /// end has an address on the guest's subnet.
    pub tcp_tap: String,
}

impl Binaries {
    /// The tender and its arguments running the bench unikernel with
    /// `mem_mb` MiB of guest memory and `guest_args` under `variant` (None
    /// for the ceiling, or upstream when it was not given).
    pub fn command(
        &self,
        variant: Variant,
        devices: &Devices,
        mem_mb: u32,
        guest_args: &[String],
    ) -> Option<(String, Vec<String>)> {
        let (tender, kernel) = match variant {
            Variant::Upstream => {
                let (t, k) = self.upstream.as_ref()?;
                (t.clone(), k.clone())
            }
            Variant::Classic | Variant::Shim | Variant::RingApi => {
                (self.ours.clone(), self.ours_kernel.clone())
            }
            Variant::MuenShim | Variant::MuenRingApi => {
                let (t, k) = self.muen.as_ref()?;
                (t.clone(), k.clone())
            }
            Variant::Ceiling => return None,
        };
        let mut args = vec![
            format!("--mem={mem_mb}"),
            format!("--net:service0={}", devices.tap),
            format!("--block:storage={}", devices.image.display()),
            format!("--block-sector-size:storage={}", devices.sector),
        ];
        if variant == Variant::Classic {
            args.push("--classic".into());
        }
        args.push("--".into());
        args.push(kernel.display().to_string());
        args.extend(guest_args.iter().cloned());
        Some((tender, args))
    }

    /// The tender and its arguments running the smoltcp unikernel on `tap`
    /// under `variant` (None for the ceiling, and for upstream unless its
    /// tender runs our binary; and for the muen runner, which has no
    /// smoltcp unikernel built for muen and refuses `--net-mac`).
    pub fn tcp_command(&self, variant: Variant, tap: &str) -> Option<(String, Vec<String>)> {
        let tender = match variant {
            Variant::Upstream if self.upstream_runs_tcp => self.upstream.as_ref()?.0.clone(),
            Variant::Classic | Variant::Shim | Variant::RingApi => self.ours.clone(),
            Variant::Upstream | Variant::Ceiling | Variant::MuenShim | Variant::MuenRingApi => {
                return None
            }
        };
        let mut args = vec![
            "--mem=64".to_string(),
            format!("--net:service0={tap}"),
            format!("--net-mac:service0={}", crate::tcp::GUEST_MAC),
        ];
        if variant == Variant::Classic {
            args.push("--classic".into());
        }
        args.push("--".into());
        let kernel = match (&self.upstream_tcp_kernel, variant) {
            (Some(kernel), Variant::Upstream) => kernel,
            _ => &self.tcp_kernel,
        };
        args.push(kernel.display().to_string());
        args.push(variant.api().into());
        Some((tender, args))
    }
}
