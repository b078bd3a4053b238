// The in-use check's comparison: a new device's backing store against the
// stores other devices recorded in their state files.
#include "backing_in_use.h"

#include <gtest/gtest.h>

#include <vector>

namespace ublk {
namespace {

BackingIdentity File(uint64_t dev, uint64_t ino, uint64_t size = 4096) {
  return {BackingIdentity::Kind::kFile, dev, ino, 0, size};
}
BackingIdentity Block(uint64_t rdev, uint64_t size = 1 << 20) {
  return {BackingIdentity::Kind::kBlock, 0, 0, rdev, size};
}
BackingIdentity Char(uint64_t rdev) {
  return {BackingIdentity::Kind::kChar, 0, 0, rdev, 0};
}

DeviceState Using(uint32_t id, std::optional<BackingIdentity> backing) {
  DeviceState s;
  s.dev_id = id;
  s.spec.file = "/some/path";
  s.backing = backing;
  return s;
}

TEST(SameStore, SameInodeOfSameFilesystemIsOneStoreWhateverItsSize) {
  EXPECT_TRUE(SameStore(File(8, 12, 4096), File(8, 12, 1 << 20)));
  EXPECT_FALSE(SameStore(File(8, 12), File(8, 13)));
  EXPECT_FALSE(SameStore(File(8, 12), File(9, 12)));
}

TEST(SameStore, DevicesCompareByDeviceNumberAndKind) {
  EXPECT_TRUE(SameStore(Block(0x10300), Block(0x10300, 0)));
  EXPECT_FALSE(SameStore(Block(0x10300), Block(0x10301)));
  EXPECT_TRUE(SameStore(Char(0xf0000), Char(0xf0000)));
  // A char and a block device may share a number without being one store.
  EXPECT_FALSE(SameStore(Char(0x10300), Block(0x10300)));
}

TEST(FindStoreUser, NamesTheDeviceOnTheSameStore) {
  std::vector<DeviceState> others = {Using(1, File(8, 1)),
                                     Using(4, Char(0xf0001)),
                                     Using(6, File(8, 2))};
  EXPECT_EQ(FindStoreUser(File(8, 2), others), 6u);
  EXPECT_EQ(FindStoreUser(Char(0xf0001), others), 4u);
}

TEST(FindStoreUser, NoDeviceOnTheStoreIsNoUser) {
  std::vector<DeviceState> others = {Using(1, File(8, 1)),
                                     Using(2, std::nullopt)};
  EXPECT_EQ(FindStoreUser(File(8, 3), others), std::nullopt);
  EXPECT_EQ(FindStoreUser(File(8, 3), {}), std::nullopt);
}

}  // namespace
}  // namespace ublk
