/** The version the service reports in health and heartbeat responses. */
export const SERVICE_VERSION = '0.1.0';
