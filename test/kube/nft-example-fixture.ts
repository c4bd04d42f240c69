// The services of the bundled example examples/nft-node (kube-proxy nftables mode, v1.36 shape,
// flannel beside it): the truth its `nftables.txt` was rendered from (src/kube/render-nft.ts,
// loaded with `nft -f` into a namespace and listed back by the kernel). The same hand-picked
// services as examples/kube-node, so the two modes can be compared service for service.
import type { GeneratedEndpoint, GeneratedService } from '../../src/kube/cluster.js';
import { endpointOf, serviceOf } from '../helpers/fixtures.js';
import type { NftRenderOptions } from '../../src/kube/render-nft.js';

const POD_CIDR = '10.244.1.';

/** Endpoints in this node's pod CIDR are local. */
const ep = (ip: string, port: number): GeneratedEndpoint => endpointOf(ip, port, ip.startsWith(POD_CIDR));
const svc = serviceOf;

export const NFT_EXAMPLE_SERVICES: GeneratedService[] = [
  svc({ name: 'default/kubernetes:https', clusterIP: '10.96.0.1', port: 443, endpoints: [ep('192.168.0.5', 6443)] }),
  svc({ name: 'kube-system/kube-dns:dns', protocol: 'udp', clusterIP: '10.96.0.10', port: 53, endpoints: [ep('10.244.1.12', 53), ep('10.244.2.7', 53)] }),
  svc({ name: 'kube-system/kube-dns:dns-tcp', clusterIP: '10.96.0.10', port: 53, endpoints: [ep('10.244.1.12', 53), ep('10.244.2.7', 53)] }),
  svc({ name: 'kube-system/kube-dns:metrics', clusterIP: '10.96.0.10', port: 9153, endpoints: [ep('10.244.1.12', 9153), ep('10.244.2.7', 9153)] }),
  svc({ name: 'shop/web:http', clusterIP: '10.96.12.40', port: 80, nodePort: 30080, endpoints: [ep('10.244.1.21', 8080), ep('10.244.2.14', 8080), ep('10.244.3.9', 8080)] }),
  svc({
    name: 'shop/frontend:https', clusterIP: '10.96.88.8', port: 443, nodePort: 31443, loadBalancerIPs: ['198.51.100.20'],
    sourceRanges: ['203.0.113.0/24', '192.168.0.0/24'], endpoints: [ep('10.244.1.30', 8443), ep('10.244.2.31', 8443)],
  }),
  svc({
    name: 'shop/checkout:http', clusterIP: '10.96.90.9', port: 80, nodePort: 31080, healthCheckNodePort: 32001, loadBalancerIPs: ['198.51.100.21'],
    externalTrafficPolicy: 'Local', endpoints: [ep('10.244.1.40', 8080), ep('10.244.3.41', 8080)],
  }),
  svc({
    name: 'shop/edge:http', clusterIP: '10.96.91.10', port: 80, nodePort: 31090, healthCheckNodePort: 32002, loadBalancerIPs: ['198.51.100.22'],
    externalTrafficPolicy: 'Local', endpoints: [ep('10.244.2.50', 8080), ep('10.244.3.51', 8080)], status: 'no-local-endpoints',
  }),
  svc({ name: 'shop/cart:grpc', clusterIP: '10.96.70.7', port: 9090, internalTrafficPolicy: 'Local', endpoints: [ep('10.244.1.60', 9090), ep('10.244.2.61', 9090)] }),
  svc({ name: 'shop/sessions:http', clusterIP: '10.96.60.6', port: 80, affinitySeconds: 10800, endpoints: [ep('10.244.1.70', 8080), ep('10.244.2.71', 8080)] }),
  svc({ name: 'shop/api:http', clusterIP: '10.96.61.7', port: 80, externalIPs: ['192.168.0.100'], endpoints: [ep('10.244.2.80', 8080), ep('10.244.3.81', 8080)] }),
  svc({ name: 'shop/legacy:http', clusterIP: '10.96.50.5', port: 80, nodePort: 30999, endpoints: [], status: 'no-endpoints' }),
  svc({ name: 'monitoring/metrics-server:https', clusterIP: '10.96.140.1', port: 443, endpoints: [ep('10.244.1.90', 10250)] }),
];

export const NFT_EXAMPLE_RENDER: NftRenderOptions = { shape: 'v1.36', clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', nodeIP: '192.168.0.10' };
