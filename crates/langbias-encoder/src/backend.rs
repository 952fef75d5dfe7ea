//! Run-time choice of burn device: the wgpu backend (WebGPU in browsers, Vulkan/Metal/DX12
//! natively) or the flex CPU backend, behind the same [`Runtime`].

use burn::tensor::Device;

use crate::EncoderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The CPU: inference on the host engine ([`HostBert`](crate::host_model::HostBert),
    /// `gemm` over all cores), training on burn's flex backend.
    Cpu,
    /// burn's flex CPU backend running the burn module for inference too (with the host
    /// GELU/attention kernels): the burn reference of the CPU path, slower than [`Self::Cpu`].
    Flex,
    /// burn's wgpu backend: WebGPU in the browser, Vulkan/Metal/DX12 natively.
    Wgpu,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "flex" => Ok(Self::Flex),
            "wgpu" | "gpu" | "webgpu" => Ok(Self::Wgpu),
            other => Err(format!(
                "unknown backend `{other}` (expected `cpu`, `flex` or `wgpu`)"
            )),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Flex => "flex",
            Self::Wgpu => "wgpu",
        })
    }
}

/// A device ready for tensors, and which backend it is.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub kind: BackendKind,
    pub device: Device,
}

impl Runtime {
    pub fn cpu() -> Self {
        Self {
            kind: BackendKind::Cpu,
            device: Device::flex(),
        }
    }

    /// Initialises the wgpu backend. In a browser this is the only way to get a WebGPU device;
    /// it fails (without panicking) when there is no adapter, so callers can fall back to
    /// [`Runtime::cpu`].
    pub async fn wgpu_async() -> Result<Self, EncoderError> {
        let device = Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| EncoderError::Backend(e.to_string()))?;
        Ok(Self {
            kind: BackendKind::Wgpu,
            device,
        })
    }

    /// Native synchronous initialisation of the wgpu backend.
    #[cfg(not(target_family = "wasm"))]
    pub fn wgpu() -> Result<Self, EncoderError> {
        let device = Device::wgpu_options()
            .init()
            .map_err(|e| EncoderError::Backend(e.to_string()))?;
        Ok(Self {
            kind: BackendKind::Wgpu,
            device,
        })
    }

    /// Native: the requested backend.
    #[cfg(not(target_family = "wasm"))]
    pub fn new(kind: BackendKind) -> Result<Self, EncoderError> {
        match kind {
            BackendKind::Cpu => Ok(Self::cpu()),
            BackendKind::Flex => Ok(Self {
                kind: BackendKind::Flex,
                device: Device::flex(),
            }),
            BackendKind::Wgpu => Self::wgpu(),
        }
    }
}
