/**
 * The typed client of a conversation's Durable Object: routes call these methods and
 * never hold a raw stub, so what crosses the RPC boundary is written down once.
 */
import type { Trigger, TriggerFiring } from "../triggers/model";
import type { ConversationObject } from "./conversation-object";
import type {
  ConversationState,
  LiveAudience,
  MessageInput,
  MessagePage,
  MessageResult,
  MessagesPage,
  MetadataEntry,
  PutMetadataResult,
  Snapshot,
  StaffMessageInput,
  StaffMessageResult,
  StartInput,
  StartResult,
  StatePatch,
} from "./model";

class ConversationClient {
  private readonly stub: DurableObjectStub<ConversationObject>;

  constructor(env: Env, conversationId: string) {
    const namespace = env.CONVERSATIONS as DurableObjectNamespace<ConversationObject>;
    this.stub = namespace.get(namespace.idFromName(conversationId));
  }

  start(input: StartInput): Promise<StartResult> {
    return this.stub.start(input) as Promise<StartResult>;
  }

  postMessage(input: MessageInput): Promise<MessageResult> {
    return this.stub.postMessage(input) as Promise<MessageResult>;
  }

  snapshot(): Promise<Snapshot> {
    return this.stub.snapshot() as Promise<Snapshot>;
  }

  readMetadata(): Promise<Record<string, string>> {
    return this.stub.readMetadata() as Promise<Record<string, string>>;
  }

  readMetadataKey(key: string): Promise<MetadataEntry | null> {
    return this.stub.readMetadataKey(key) as Promise<MetadataEntry | null>;
  }

  putMetadata(key: string, value: string): Promise<PutMetadataResult> {
    return this.stub.putMetadata(key, value) as Promise<PutMetadataResult>;
  }

  deleteMetadata(key: string): Promise<boolean> {
    return this.stub.deleteMetadata(key) as Promise<boolean>;
  }

  postStaffMessage(input: StaffMessageInput): Promise<StaffMessageResult> {
    return this.stub.postStaffMessage(input) as Promise<StaffMessageResult>;
  }

  /** `triggers`: the chatbot's, for those that fire when the conversation ends. */
  setState(patch: StatePatch, triggers: Trigger[]): Promise<ConversationState> {
    return this.stub.setState(patch, triggers) as Promise<ConversationState>;
  }

  listEvents(): Promise<TriggerFiring[]> {
    return this.stub.listEvents() as Promise<TriggerFiring[]>;
  }

  /** Hands a WebSocket upgrade to the object: `visitor` sockets get messages, `staff` ones metadata too. */
  live(request: Request, audience: LiveAudience): Promise<Response> {
    const url = new URL(request.url);
    url.searchParams.set("audience", audience);
    return this.stub.fetch(new Request(url, request));
  }

  listMessages(page: MessagesPage): Promise<MessagePage> {
    return this.stub.listMessages(page) as Promise<MessagePage>;
  }
}

export const conversationClient = (env: Env, conversationId: string) => new ConversationClient(env, conversationId);
