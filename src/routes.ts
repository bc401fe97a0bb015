import type { ConnectRouter } from "@connectrpc/connect";
import { accountService } from "./account/service.js";
import { type App, SERVED_FILES, SERVED_SERVICES } from "./app.js";
import { attachmentsService } from "./attachments/service.js";
import { devicesService } from "./devices/service.js";
import { AccountService } from "./gen/cyphr/account/v1/account_pb.js";
import { AttachmentsService } from "./gen/cyphr/attachments/v1/attachments_pb.js";
import { DevicesService } from "./gen/cyphr/devices/v1/devices_pb.js";
import { GroupsService } from "./gen/cyphr/groups/v1/groups_pb.js";
import { IdentityService } from "./gen/cyphr/identity/v1/identity_pb.js";
import { MessagingService } from "./gen/cyphr/messaging/v1/messaging_pb.js";
import { KeyPackagesService } from "./gen/cyphr/mls/v1/key_packages_pb.js";
import { MlsChatsService } from "./gen/cyphr/mls/v1/mls_chats_pb.js";
import { PrivacyService } from "./gen/cyphr/privacy/v1/privacy_pb.js";
import { RealtimeService } from "./gen/cyphr/realtime/v1/realtime_pb.js";
import { Health } from "./gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "./gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
import { groupsService } from "./groups/service.js";
import { identityService } from "./identity/service.js";
import { keyPackagesService } from "./key-packages/service.js";
import { messagingService } from "./messaging/service.js";
import { mlsChatsService } from "./mls-chats/service.js";
import { privacyService } from "./privacy/service.js";
import { realtimeService } from "./realtime/service.js";
import { healthService } from "./rpc/health.js";
import { DescriptorIndex, reflectionV1, reflectionV1alpha } from "./rpc/reflection.js";

/** Registers every service on the router. */
export function routes(app: App): (router: ConnectRouter) => void {
  const descriptors = new DescriptorIndex(SERVED_FILES, SERVED_SERVICES);
  return (router) => {
    router.service(IdentityService, identityService(app.identity));
    router.service(DevicesService, devicesService(app.devices));
    router.service(AccountService, accountService(app.account));
    router.service(KeyPackagesService, keyPackagesService(app.keyPackages));
    router.service(MlsChatsService, mlsChatsService(app.mlsChats));
    router.service(MessagingService, messagingService(app.messaging));
    router.service(GroupsService, groupsService(app.groups));
    router.service(RealtimeService, realtimeService(app.realtime));
    router.service(PrivacyService, privacyService(app.privacy));
    router.service(AttachmentsService, attachmentsService(app.attachments));
    router.service(Health, healthService(app.health));
    router.service(ReflectionV1, reflectionV1(descriptors));
    router.service(ReflectionV1alpha, reflectionV1alpha(descriptors));
  };
}

/** Services and methods reachable without an access token. */
export const PUBLIC_SERVICES = [Health.typeName, ReflectionV1.typeName, ReflectionV1alpha.typeName];
