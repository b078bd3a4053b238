// NBD URIs: the forms qemu and libnbd accept, and one-line refusals.
#include "nbd_uri.h"

#include <gtest/gtest.h>

namespace ublk::nbd {
namespace {

TEST(NbdUri, TcpWithoutPortOrExportUsesTheDefaults) {
  auto a = ParseUri("nbd://server");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->kind, Address::Kind::kTcp);
  EXPECT_EQ(a->host, "server");
  EXPECT_EQ(a->port, 10809);
  EXPECT_EQ(a->export_name, "");
}

TEST(NbdUri, TcpWithPortAndExport) {
  auto a = ParseUri("nbd://127.0.0.1:10810/disk%20one");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 10810);
  EXPECT_EQ(a->export_name, "disk one");
  EXPECT_EQ(Describe(*a), "127.0.0.1:10810");
}

TEST(NbdUri, BracketedIpv6Host) {
  auto a = ParseUri("nbd://[::1]:99/x");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 99);
  EXPECT_EQ(Describe(*a), "[::1]:99");
}

TEST(NbdUri, UnixSocketWithExport) {
  auto a = ParseUri("nbd+unix:///exp?socket=/run/nbd.sock");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->kind, Address::Kind::kUnix);
  EXPECT_EQ(a->socket_path, "/run/nbd.sock");
  EXPECT_EQ(a->export_name, "exp");
  EXPECT_EQ(Describe(*a), "unix:/run/nbd.sock");
}

TEST(NbdUri, UnixSocketDefaultExport) {
  auto a = ParseUri("nbd+unix://?socket=/s");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->export_name, "");
}

void ExpectRefused(const char* uri, const char* words) {
  auto a = ParseUri(uri);
  ASSERT_FALSE(a) << uri;
  const std::string& m = a.error().message();
  EXPECT_NE(m.find(words), std::string::npos) << uri << " -> " << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_EQ(m.rfind(std::string("-f ") + uri, 0), 0u) << m;
}

TEST(NbdUri, MalformedUrisAreRefusedInOneLineNamingTheProblem) {
  ExpectRefused("/tmp/disk.img", "not an NBD URI");
  ExpectRefused("http://x/", "unknown scheme");
  ExpectRefused("nbds://x/", "TLS");
  ExpectRefused("nbd://", "no host");
  ExpectRefused("nbd://:10809/x", "no host");
  ExpectRefused("nbd://h:0/x", "port out of range");
  ExpectRefused("nbd://h:65536/x", "port out of range");
  ExpectRefused("nbd://h:12a/x", "bad port");
  ExpectRefused("nbd://h:/x", "bad port");
  ExpectRefused("nbd://[::1/x", "unclosed");
  ExpectRefused("nbd://[::1]x/", "junk after");
  ExpectRefused("nbd://u@h/x", "user names");
  ExpectRefused("nbd://h/x?socket=/s", "no query");
  ExpectRefused("nbd://h/a%2", "%-escape");
  ExpectRefused("nbd://h/a%00b", "%-escape");
  ExpectRefused("nbd+unix:///x", "socket=PATH");
  ExpectRefused("nbd+unix://host/x?socket=/s", "takes no host");
  ExpectRefused("nbd+unix:///x?socket=/s&tls=on", "exactly one");
  ExpectRefused("nbd+unix:///x?socket=", "bad socket path");
  ExpectRefused("nbd://h/x#frag", "fragments");
}

TEST(NbdUri, OverlongSocketPathIsRefused) {
  const std::string uri = "nbd+unix:///x?socket=/" + std::string(120, 'a');
  auto a = ParseUri(uri);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message().find("longer than 107"), std::string::npos);
}

}  // namespace
}  // namespace ublk::nbd
