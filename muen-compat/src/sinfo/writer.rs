//! Building a subject info page, as Muen's `mugensinfo` does from a policy.

use super::layout::*;
use super::types::{
    put, Device, DeviceMemory, DevicePort, MemoryRegion, Name, ResourceData, SinfoFormat,
};
use super::SinfoError;

/// Builds a subject info page into a caller's buffer.
///
/// The buffer is zeroed and the header written by [`new`](Self::new); each
/// `add_*` appends one resource and updates `resource_count`, so the buffer
/// holds a valid page (no NONE holes) after every successful call. Resources
/// appear in the order added; `mugensinfo` lists memory regions, then
/// devices with their memory, then events, then vectors.
#[derive(Debug)]
pub struct SinfoWriter<'a> {
    page: &'a mut [u8; SINFO_SIZE],
    format: SinfoFormat,
    count: usize,
}

impl<'a> SinfoWriter<'a> {
    /// Start a page of `format` for subject `subject_name` with TSC rate
    /// `tsc_khz`, in `page`.
    pub fn new(
        page: &'a mut [u8; SINFO_SIZE],
        format: SinfoFormat,
        subject_name: &[u8],
        tsc_khz: u32,
    ) -> Result<Self, SinfoError> {
        let name = Name::new(subject_name)?;
        page.fill(0);
        put(page, OFFSET_MAGIC, &format.magic().to_le_bytes());
        put(page, OFFSET_TSC_KHZ, &tsc_khz.to_le_bytes());
        let mut record = [0; NAME_SIZE];
        name.encode(&mut record);
        put(page, OFFSET_SUBJECT_NAME, &record);
        Ok(Self {
            page,
            format,
            count: 0,
        })
    }

    /// Append memory region `name`. Its pattern must agree with its content
    /// (a fill byte for [`Content::FILL`](super::Content::FILL), else
    /// [`NO_PATTERN`]).
    pub fn add_memory(&mut self, name: &[u8], region: MemoryRegion) -> Result<(), SinfoError> {
        if !region.pattern_is_consistent() {
            return Err(SinfoError::InconsistentPattern {
                pattern: region.pattern,
            });
        }
        self.add(RESOURCE_KIND_MEMORY, name, ResourceData::Memory(region))
    }

    /// Append event `name` (a `vmcall` number, 0..=63).
    pub fn add_event(&mut self, name: &[u8], number: u8) -> Result<(), SinfoError> {
        if number > MAX_EVENT_NUMBER {
            return Err(SinfoError::EventNumberOutOfRange { number });
        }
        self.add(RESOURCE_KIND_EVENT, name, ResourceData::Event(number))
    }

    /// Append vector `name` (an interrupt vector).
    pub fn add_vector(&mut self, name: &[u8], number: u8) -> Result<(), SinfoError> {
        self.add(RESOURCE_KIND_VECTOR, name, ResourceData::Vector(number))
    }

    /// Append PCI device `name` (05-only fields are dropped in 04).
    pub fn add_device(&mut self, name: &[u8], device: Device) -> Result<(), SinfoError> {
        self.add(RESOURCE_KIND_DEVICE, name, ResourceData::Device(device))
    }

    /// Append device MMIO region `name` (05-only fields are dropped in 04).
    pub fn add_device_memory(
        &mut self,
        name: &[u8],
        memory: DeviceMemory,
    ) -> Result<(), SinfoError> {
        self.add(
            RESOURCE_KIND_DEVICE_MEMORY,
            name,
            ResourceData::DeviceMemory(memory),
        )
    }

    /// Append device port range `name` (format 05 only).
    pub fn add_device_port(&mut self, name: &[u8], port: DevicePort) -> Result<(), SinfoError> {
        self.add(
            RESOURCE_KIND_DEVICE_PORT,
            name,
            ResourceData::DevicePort(port),
        )
    }

    /// Number of resources added.
    pub fn resource_count(&self) -> usize {
        self.count
    }

    /// The page's format.
    pub fn format(&self) -> SinfoFormat {
        self.format
    }

    fn add(&mut self, kind: u32, name: &[u8], data: ResourceData) -> Result<(), SinfoError> {
        if self.count == MAX_RESOURCES {
            return Err(SinfoError::Full);
        }
        let name = Name::new(name)?;
        let mut encoded = [0; RES_DATA_SIZE];
        if !data.encode(self.format, &mut encoded) {
            return Err(SinfoError::KindNotInFormat {
                kind,
                format: self.format,
            });
        }
        let mut resource = [0; RESOURCE_SIZE];
        put(&mut resource, RES_OFFSET_KIND, &kind.to_le_bytes());
        let mut record = [0; NAME_SIZE];
        name.encode(&mut record);
        put(&mut resource, RES_OFFSET_NAME, &record);
        put(&mut resource, RES_OFFSET_DATA, &encoded);
        put(
            self.page,
            OFFSET_RESOURCES + self.count * RESOURCE_SIZE,
            &resource,
        );
        self.count += 1;
        put(
            self.page,
            self.format.resource_count_offset(),
            &(self.count as u16).to_le_bytes(),
        );
        Ok(())
    }
}
