//! Reading a subject info page.

use super::layout::*;
use super::types::{
    get_array, get_u16, Device, MemoryRegion, Name, Resource, ResourceData, ResourceKind,
    SinfoFormat,
};
use super::SinfoError;
use crate::memory::SharedMemory;

/// A reader of a subject info page.
///
/// The page is untrusted: whatever its bytes, the reader only reads inside
/// the first [`SINFO_SIZE`] bytes of the region and never panics. The magic
/// and `resource_count` are read once, by [`new`](Self::new); each resource
/// is copied out whole before it is decoded.
#[derive(Debug)]
pub struct SinfoReader<M: SharedMemory> {
    mem: M,
    format: SinfoFormat,
    /// `resource_count`, clamped to [`MAX_RESOURCES`].
    count: usize,
}

impl<M: SharedMemory> SinfoReader<M> {
    /// A reader of the page in `mem`, after checking its magic: "muinfo" and
    /// a version byte of 4 or 5.
    pub fn new(mem: M) -> Result<Self, SinfoError> {
        if mem.len() < SINFO_SIZE {
            return Err(SinfoError::RegionTooSmall { len: mem.len() });
        }
        let mut header = [0u8; OFFSET_RESOURCES];
        mem.read_bytes(0, &mut header);
        let magic = u64::from_le_bytes(get_array(&header, OFFSET_MAGIC));
        if magic & MAGIC_BASE_MASK != MAGIC_BASE {
            return Err(SinfoError::BadMagic { magic });
        }
        let version = (magic >> MAGIC_VERSION_SHIFT) as u8;
        let format =
            SinfoFormat::from_version(version).ok_or(SinfoError::UnknownFormat { version })?;
        let stored = get_u16(&header, format.resource_count_offset());
        Ok(Self {
            mem,
            format,
            count: usize::from(stored).min(MAX_RESOURCES),
        })
    }

    /// The page's format.
    pub fn format(&self) -> SinfoFormat {
        self.format
    }

    /// `tsc_khz`: the TSC rate in kHz (upstream Solo5 does not use it).
    pub fn tsc_khz(&self) -> u32 {
        let mut raw = [0u8; 4];
        self.mem.read_bytes(OFFSET_TSC_KHZ, &mut raw);
        u32::from_le_bytes(raw)
    }

    /// The subject's name (Solo5 derives its MAC addresses from it).
    pub fn subject_name(&self) -> Name {
        let mut record = [0u8; NAME_SIZE];
        self.mem.read_bytes(OFFSET_SUBJECT_NAME, &mut record);
        Name::decode(&record)
    }

    /// `resource_count` as stored, at most [`MAX_RESOURCES`] (a larger value
    /// would point past the array; upstream would read beyond it).
    pub fn resource_count(&self) -> usize {
        self.count
    }

    /// The resources in order: the first `resource_count`, stopping early at
    /// the first of kind NONE (as upstream's iterator does).
    pub fn resources(&self) -> Resources<'_, M> {
        Resources {
            reader: self,
            index: 0,
        }
    }

    /// The first resource named `name` of `kind`, as upstream's
    /// `muen_get_resource`: names match when the lengths are equal and the
    /// bytes are. A `name` longer than 63 bytes matches nothing.
    pub fn find(&self, name: &[u8], kind: ResourceKind) -> Option<Resource> {
        self.resources()
            .find(|r| r.data.kind() == Some(kind) && r.name.matches(name))
    }

    /// The memory region `name`.
    pub fn memory(&self, name: &[u8]) -> Option<MemoryRegion> {
        match self.find(name, ResourceKind::Memory)?.data {
            ResourceData::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The number of event `name`.
    pub fn event(&self, name: &[u8]) -> Option<u8> {
        match self.find(name, ResourceKind::Event)?.data {
            ResourceData::Event(n) => Some(n),
            _ => None,
        }
    }

    /// The number of vector `name`.
    pub fn vector(&self, name: &[u8]) -> Option<u8> {
        match self.find(name, ResourceKind::Vector)?.data {
            ResourceData::Vector(n) => Some(n),
            _ => None,
        }
    }

    /// The PCI device with source id `sid`, as upstream's `muen_get_device`.
    pub fn device(&self, sid: u16) -> Option<Device> {
        self.resources().find_map(|r| match r.data {
            ResourceData::Device(d) if d.sid == sid => Some(d),
            _ => None,
        })
    }

    /// Resource `index` (below `count`): `None` if its kind is NONE.
    fn resource(&self, index: usize) -> Option<Resource> {
        let mut raw = [0u8; RESOURCE_SIZE];
        self.mem
            .read_bytes(OFFSET_RESOURCES + index * RESOURCE_SIZE, &mut raw);
        let kind = u32::from_le_bytes(get_array(&raw, RES_OFFSET_KIND));
        if kind == RESOURCE_KIND_NONE {
            return None;
        }
        let name = Name::decode(&get_array(&raw, RES_OFFSET_NAME));
        let data = ResourceData::decode(self.format, kind, &get_array(&raw, RES_OFFSET_DATA));
        Some(Resource { name, data })
    }
}

/// Iterator over a page's resources ([`SinfoReader::resources`]).
#[derive(Debug)]
pub struct Resources<'a, M: SharedMemory> {
    reader: &'a SinfoReader<M>,
    index: usize,
}

impl<M: SharedMemory> Iterator for Resources<'_, M> {
    type Item = Resource;

    fn next(&mut self) -> Option<Resource> {
        if self.index >= self.reader.count {
            return None;
        }
        match self.reader.resource(self.index) {
            Some(resource) => {
                self.index += 1;
                Some(resource)
            }
            None => {
                self.index = self.reader.count;
                None
            }
        }
    }
}
