import * as kplus from 'cdk8s-plus-27';
import { NetworkPeer, PolicyPort, checkPort } from '../network/peers';
import { LABEL } from '../../core/metric-contract';
import { PropertyError, checkDnsName, checkNonEmpty, checkUnique, parseDuration, urlPort } from '../../core/validation';

/** A webhook receiver: alerts are POSTed as JSON. */
export interface WebhookReceiverOptions {
  /** http:// or https:// URL; no credentials in it (use `bearerTokenKey`). */
  readonly url: string;
  /**
   * Key in the credentials Secret holding a bearer token for the `Authorization` header.
   * @default - no Authorization header
   */
  readonly bearerTokenKey?: string;
  /**
   * Also notify when alerts resolve.
   * @default true
   */
  readonly sendResolved?: boolean;
}

/** A Slack receiver (incoming webhook). */
export interface SlackReceiverOptions {
  /** Key in the credentials Secret holding the incoming-webhook URL, which is itself the credential. */
  readonly apiUrlKey: string;
  /**
   * Channel, e.g. '#proxy-alerts'.
   * @default - the webhook's own channel
   */
  readonly channel?: string;
  /**
   * Also notify when alerts resolve.
   * @default true
   */
  readonly sendResolved?: boolean;
}

/** A PagerDuty receiver (Events API v2). */
export interface PagerDutyReceiverOptions {
  /** Key in the credentials Secret holding the integration (routing) key. */
  readonly routingKeyKey: string;
  /**
   * Also notify when alerts resolve.
   * @default true
   */
  readonly sendResolved?: boolean;
}

/** An e-mail receiver. */
export interface EmailReceiverOptions {
  /** Recipient address. */
  readonly to: string;
  /** Sender address. */
  readonly from: string;
  /** SMTP server as `host:port`. */
  readonly smarthost: string;
  /**
   * SMTP user name.
   * @default - no SMTP authentication
   */
  readonly authUsername?: string;
  /**
   * Key in the credentials Secret holding the SMTP password.
   * @default - no SMTP password
   */
  readonly authPasswordKey?: string;
  /**
   * Require STARTTLS.
   * @default true
   */
  readonly requireTls?: boolean;
  /**
   * Also notify when alerts resolve.
   * @default false
   */
  readonly sendResolved?: boolean;
}

/** A named receiver; each list may hold several integrations. A receiver without any drops its alerts. */
export interface AlertmanagerReceiver {
  /** Receiver name, referred to by routes. */
  readonly name: string;
  /**
   * Webhook integrations.
   * @default - none
   */
  readonly webhooks?: WebhookReceiverOptions[];
  /**
   * Slack integrations.
   * @default - none
   */
  readonly slack?: SlackReceiverOptions[];
  /**
   * PagerDuty integrations.
   * @default - none
   */
  readonly pagerDuty?: PagerDutyReceiverOptions[];
  /**
   * E-mail integrations.
   * @default - none
   */
  readonly email?: EmailReceiverOptions[];
}

/** A child route of the top-level route. */
export interface AlertmanagerRoute {
  /** Receiver of the matching alerts. */
  readonly receiver: string;
  /** Alertmanager matchers, e.g. `severity="critical"` or `proxy_vendor=~"vendor-(a|b)"`; all must match. */
  readonly matchers: string[];
  /**
   * Keep matching the following routes after this one matched.
   * @default false
   */
  readonly continue?: boolean;
}

/** Alertmanager settings. Alertmanager is deployed only when these are given. */
export interface AlertmanagerOptions {
  /** Receivers; credentials are read from files of the credentials Secret, never inlined. */
  readonly receivers: AlertmanagerReceiver[];
  /**
   * Receiver of alerts that no route matches.
   * @default - the first receiver
   */
  readonly defaultReceiver?: string;
  /**
   * Child routes, tried in order.
   * @default - none: every alert goes to the default receiver
   */
  readonly routes?: AlertmanagerRoute[];
  /**
   * Labels that group alerts into one notification.
   * @default DEFAULT_GROUP_BY (['proxy_vendor', 'alertname'])
   */
  readonly groupBy?: string[];
  /**
   * Wait before the first notification of a new group.
   * @default DEFAULT_GROUP_WAIT ('30s')
   */
  readonly groupWait?: string;
  /**
   * Wait before notifying about alerts added to a group.
   * @default DEFAULT_GROUP_INTERVAL ('5m')
   */
  readonly groupInterval?: string;
  /**
   * Wait before repeating a notification.
   * @default DEFAULT_REPEAT_INTERVAL ('4h')
   */
  readonly repeatInterval?: string;
  /**
   * Secret (in the monitoring namespace) holding the keys that receivers name (`apiUrlKey`,
   * `routingKeyKey`, `authPasswordKey`, `bearerTokenKey`); create it before applying. Mounted only
   * when a receiver names a key.
   * @default DEFAULT_ALERTMANAGER_CREDENTIALS_SECRET_NAME ('alertmanager-credentials')
   */
  readonly credentialsSecretName?: string;
  /**
   * Alertmanager image.
   * @default DEFAULT_ALERTMANAGER_IMAGE ('quay.io/prometheus/alertmanager:v0.27.0')
   */
  readonly image?: string;
  /**
   * Size of a PersistentVolumeClaim for silences and the notification log.
   * @default - an emptyDir: silences are lost when the pod is replaced
   */
  readonly storageSize?: string;
  /**
   * StorageClass of the PersistentVolumeClaim (with `storageSize`).
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
  /**
   * Container resources.
   * @default DEFAULT_ALERTMANAGER_RESOURCES (requests 50m CPU / 64Mi, limits 500m CPU / 256Mi)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Clients besides Prometheus allowed to reach Alertmanager (its UI and API, port 9093) when
   * NetworkPolicies are on. `kubectl port-forward` is not subject to NetworkPolicies.
   * @default - none
   */
  readonly allowFrom?: NetworkPeer[];
}

export const DEFAULT_ALERTMANAGER_IMAGE = 'quay.io/prometheus/alertmanager:v0.27.0';
/** Labels Alertmanager groups alerts by: one notification per vendor and alert. */
export const DEFAULT_GROUP_BY: readonly string[] = [LABEL.vendor, 'alertname'];
/** How long Alertmanager waits to notify a new group. */
export const DEFAULT_GROUP_WAIT = '30s';
/** How long Alertmanager waits to notify a group's new alerts. */
export const DEFAULT_GROUP_INTERVAL = '5m';
/** How long Alertmanager waits to repeat a notification. */
export const DEFAULT_REPEAT_INTERVAL = '4h';
/**
 * Where the credentials Secret is mounted; receivers read their secrets from files below it.
 * @internal
 */
export const ALERTMANAGER_SECRETS_DIR = '/etc/alertmanager/secrets';

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MATCHER = /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*(".*"|[^"\s]*)\s*$/;
const EMAIL = /^[^@\s<>]+@[^@\s<>]+$/;

/**
 * An Alertmanager configuration checked at construct time, with its credential keys and egress ports.
 */
export interface ResolvedAlertmanagerConfig {
  /** alertmanager.yml as an object. */
  readonly config: Record<string, unknown>;
  /** Keys of the credentials Secret the receivers read. */
  readonly secretKeys: string[];
  /** Ports the receivers connect to (any address). */
  readonly egressPorts: PolicyPort[];
}

function secretFile(property: string, key: string, keys: Set<string>): string {
  if (typeof key !== 'string' || !SECRET_KEY.test(key)) {
    throw new PropertyError(property, key, 'must be a Secret key: letters, digits, \'-\', \'_\' or \'.\'');
  }
  keys.add(key);
  return `${ALERTMANAGER_SECRETS_DIR}/${key}`;
}


function hostPort(property: string, value: string): number {
  const m = typeof value === 'string' ? /^([^:\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value) : null;
  if (!m) throw new PropertyError(property, value, 'must be \'host:port\'');
  return checkPort(property, Number(m[2]));
}

/**
 * Validates the options and renders alertmanager.yml; every error names the property and value.
 * @internal
 */
export function resolveAlertmanagerConfig(opts: AlertmanagerOptions, property = 'alertmanager'): ResolvedAlertmanagerConfig {
  const receivers = checkNonEmpty(`${property}.receivers`, opts.receivers);
  receivers.forEach((r, i) => {
    if (typeof r.name !== 'string' || r.name.trim() === '') throw new PropertyError(`${property}.receivers[${i}].name`, r.name, 'must be a non-empty name');
  });
  const names = receivers.map(r => r.name);
  checkUnique(`${property}.receivers`, names);
  const checkReceiver = (path: string, name: string): string => {
    if (!names.includes(name)) throw new PropertyError(path, name, `is not a receiver (receivers: ${names.join(', ')})`);
    return name;
  };

  const keys = new Set<string>();
  const ports = new Set<number>();
  const rendered = receivers.map((r, i) => {
    const path = `${property}.receivers[${i}]`;
    const out: Record<string, unknown> = { name: r.name };
    if (r.webhooks?.length) {
      out.webhook_configs = r.webhooks.map((w, j) => {
        ports.add(urlPort(`${path}.webhooks[${j}].url`, w.url));
        return {
          url: w.url,
          send_resolved: w.sendResolved ?? true,
          ...(w.bearerTokenKey !== undefined
            ? { http_config: { authorization: { type: 'Bearer', credentials_file: secretFile(`${path}.webhooks[${j}].bearerTokenKey`, w.bearerTokenKey, keys) } } }
            : {}),
        };
      });
    }
    if (r.slack?.length) {
      ports.add(443);
      out.slack_configs = r.slack.map((s, j) => ({
        api_url_file: secretFile(`${path}.slack[${j}].apiUrlKey`, s.apiUrlKey, keys),
        ...(s.channel !== undefined ? { channel: s.channel } : {}),
        send_resolved: s.sendResolved ?? true,
      }));
    }
    if (r.pagerDuty?.length) {
      ports.add(443);
      out.pagerduty_configs = r.pagerDuty.map((p, j) => ({
        routing_key_file: secretFile(`${path}.pagerDuty[${j}].routingKeyKey`, p.routingKeyKey, keys),
        send_resolved: p.sendResolved ?? true,
      }));
    }
    if (r.email?.length) {
      out.email_configs = r.email.map((e, j) => {
        const epath = `${path}.email[${j}]`;
        for (const field of ['to', 'from'] as const) {
          if (typeof e[field] !== 'string' || !EMAIL.test(e[field])) throw new PropertyError(`${epath}.${field}`, e[field], 'must be an e-mail address');
        }
        ports.add(hostPort(`${epath}.smarthost`, e.smarthost));
        if (e.authPasswordKey !== undefined && e.authUsername === undefined) {
          throw new PropertyError(`${epath}.authPasswordKey`, e.authPasswordKey, 'needs \'authUsername\'');
        }
        return {
          to: e.to,
          from: e.from,
          smarthost: e.smarthost,
          ...(e.authUsername !== undefined ? { auth_username: e.authUsername } : {}),
          ...(e.authPasswordKey !== undefined ? { auth_password_file: secretFile(`${epath}.authPasswordKey`, e.authPasswordKey, keys) } : {}),
          require_tls: e.requireTls ?? true,
          send_resolved: e.sendResolved ?? false,
        };
      });
    }
    return out;
  });

  const groupBy = opts.groupBy ?? [...DEFAULT_GROUP_BY];
  groupBy.forEach((l, i) => {
    if (!(l === '...' || LABEL_NAME.test(l))) throw new PropertyError(`${property}.groupBy[${i}]`, l, 'must be a label name or \'...\'');
  });
  const durations = {
    groupWait: opts.groupWait ?? DEFAULT_GROUP_WAIT, groupInterval: opts.groupInterval ?? DEFAULT_GROUP_INTERVAL, repeatInterval: opts.repeatInterval ?? DEFAULT_REPEAT_INTERVAL,
  };
  for (const [k, v] of Object.entries(durations)) parseDuration(`${property}.${k}`, v);
  const routes = (opts.routes ?? []).map((route, i) => {
    const path = `${property}.routes[${i}]`;
    checkReceiver(`${path}.receiver`, route.receiver);
    checkNonEmpty(`${path}.matchers`, route.matchers).forEach((m, j) => {
      if (typeof m !== 'string' || !MATCHER.test(m)) throw new PropertyError(`${path}.matchers[${j}]`, m, 'must be a matcher such as \'severity="critical"\'');
    });
    return { receiver: route.receiver, matchers: [...route.matchers], ...(route.continue ? { continue: true } : {}) };
  });

  const config: Record<string, unknown> = {
    route: {
      receiver: checkReceiver(`${property}.defaultReceiver`, opts.defaultReceiver ?? names[0]),
      group_by: groupBy,
      group_wait: durations.groupWait,
      group_interval: durations.groupInterval,
      repeat_interval: durations.repeatInterval,
      ...(routes.length > 0 ? { routes } : {}),
    },
    receivers: rendered,
  };
  if (opts.credentialsSecretName !== undefined) checkDnsName(`${property}.credentialsSecretName`, opts.credentialsSecretName);
  return {
    config,
    secretKeys: [...keys].sort(),
    egressPorts: [...ports].sort((a, b) => a - b).map(port => ({ port })),
  };
}
