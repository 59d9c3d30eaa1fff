/* A minimal Vulkan layer that saves the SPIR-V an application hands to the driver.
 *
 * make_spv.py builds it (cc -shared -fPIC) and enables it while wgpu-native creates our compute
 * pipelines, so the saved SPIR-V is byte for byte what the product gives the Vulkan driver (naga
 * from wgpu-native, override constants resolved, runtime checks as the product sets them).
 *
 * Every vkCreateShaderModule (and a VkShaderModuleCreateInfo chained into a compute pipeline's
 * stage, VK_KHR_maintenance5 style) is written to $SPV_CAPTURE_DIR/NNNN.spv; every compute
 * pipeline's stage entry point is appended to $SPV_CAPTURE_DIR/pipelines.log as
 * "module|inline NNNN <entry point> spec=<n>"; the device's enabled extensions and robustness
 * features go to device.log. One instance and one device at a time is enough.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>
#include <vulkan/vk_layer.h>

#define EXPORT __attribute__((visibility("default")))

static PFN_vkGetInstanceProcAddr next_gipa;
static PFN_vkGetDeviceProcAddr next_gdpa;
static PFN_vkCreateShaderModule next_create_module;
static PFN_vkCreateComputePipelines next_create_compute;
static int counter;

#define MAX_MODULES 4096
static VkShaderModule modules[MAX_MODULES];
static int module_ids[MAX_MODULES];
static int n_modules;

static int save(const void *code, size_t size) {
    const char *dir = getenv("SPV_CAPTURE_DIR");
    int id = counter++;
    if (!dir) return id;
    char path[4096];
    snprintf(path, sizeof path, "%s/%04d.spv", dir, id);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(code, 1, size, f);
        fclose(f);
    }
    return id;
}

static void log_line(const char *line) {
    const char *dir = getenv("SPV_CAPTURE_DIR");
    if (!dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/pipelines.log", dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fputs(line, f);
        fclose(f);
    }
}

static void log_device(const char *line) {
    const char *dir = getenv("SPV_CAPTURE_DIR");
    if (!dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/device.log", dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fputs(line, f);
        fclose(f);
    }
}

static VKAPI_ATTR VkResult VKAPI_CALL cap_CreateShaderModule(
    VkDevice device, const VkShaderModuleCreateInfo *info, const VkAllocationCallbacks *alloc,
    VkShaderModule *module) {
    int id = save(info->pCode, info->codeSize);
    VkResult r = next_create_module(device, info, alloc, module);
    if (r == VK_SUCCESS && n_modules < MAX_MODULES) {
        modules[n_modules] = *module;
        module_ids[n_modules++] = id;
    }
    return r;
}

static VKAPI_ATTR VkResult VKAPI_CALL cap_CreateComputePipelines(
    VkDevice device, VkPipelineCache cache, uint32_t count,
    const VkComputePipelineCreateInfo *infos, const VkAllocationCallbacks *alloc,
    VkPipeline *pipelines) {
    for (uint32_t i = 0; i < count; i++) {
        const VkPipelineShaderStageCreateInfo *st = &infos[i].stage;
        char line[1024];
        int id = -1;
        const char *kind = "module";
        for (const VkBaseInStructure *p = st->pNext; p; p = p->pNext) {
            if (p->sType == VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO) {
                const VkShaderModuleCreateInfo *mi = (const VkShaderModuleCreateInfo *)p;
                id = save(mi->pCode, mi->codeSize);
                kind = "inline";
            }
        }
        /* newest first: a destroyed module's handle value may be reused */
        for (int m = n_modules - 1; id < 0 && m >= 0; m--)
            if (modules[m] == st->module) id = module_ids[m];
        snprintf(line, sizeof line, "%s %04d %s spec=%u\n", kind, id, st->pName,
                 st->pSpecializationInfo ? st->pSpecializationInfo->mapEntryCount : 0);
        log_line(line);
    }
    return next_create_compute(device, cache, count, infos, alloc, pipelines);
}

/* $SPV_CAPTURE_MIN_SHARED raises the reported maxComputeSharedMemorySize to at least that many
 * bytes, so that wgpu lets a kernel needing more workgroup memory than lavapipe reports reach
 * the driver (the SPIR-V does not depend on the limit). */
static PFN_vkGetPhysicalDeviceProperties next_props;
static PFN_vkGetPhysicalDeviceProperties2 next_props2, next_props2khr;

static void raise_limits(VkPhysicalDeviceProperties *p) {
    const char *v = getenv("SPV_CAPTURE_MIN_SHARED");
    uint32_t want = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    if (p->limits.maxComputeSharedMemorySize < want) p->limits.maxComputeSharedMemorySize = want;
}

static VKAPI_ATTR void VKAPI_CALL cap_GetPhysicalDeviceProperties(
    VkPhysicalDevice phys, VkPhysicalDeviceProperties *props) {
    next_props(phys, props);
    raise_limits(props);
}

static VKAPI_ATTR void VKAPI_CALL cap_GetPhysicalDeviceProperties2(
    VkPhysicalDevice phys, VkPhysicalDeviceProperties2 *props) {
    next_props2(phys, props);
    raise_limits(&props->properties);
}

static VKAPI_ATTR void VKAPI_CALL cap_GetPhysicalDeviceProperties2KHR(
    VkPhysicalDevice phys, VkPhysicalDeviceProperties2 *props) {
    next_props2khr(phys, props);
    raise_limits(&props->properties);
}

static VKAPI_ATTR VkResult VKAPI_CALL cap_CreateInstance(
    const VkInstanceCreateInfo *info, const VkAllocationCallbacks *alloc, VkInstance *instance) {
    VkLayerInstanceCreateInfo *link = (VkLayerInstanceCreateInfo *)info->pNext;
    while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO &&
                     link->function == VK_LAYER_LINK_INFO))
        link = (VkLayerInstanceCreateInfo *)link->pNext;
    if (!link) return VK_ERROR_INITIALIZATION_FAILED;
    next_gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
    link->u.pLayerInfo = link->u.pLayerInfo->pNext;
    PFN_vkCreateInstance create = (PFN_vkCreateInstance)next_gipa(NULL, "vkCreateInstance");
    VkResult r = create(info, alloc, instance);
    if (r == VK_SUCCESS) {
        next_props = (PFN_vkGetPhysicalDeviceProperties)next_gipa(
            *instance, "vkGetPhysicalDeviceProperties");
        next_props2 = (PFN_vkGetPhysicalDeviceProperties2)next_gipa(
            *instance, "vkGetPhysicalDeviceProperties2");
        next_props2khr = (PFN_vkGetPhysicalDeviceProperties2)next_gipa(
            *instance, "vkGetPhysicalDeviceProperties2KHR");
    }
    return r;
}

static VKAPI_ATTR VkResult VKAPI_CALL cap_CreateDevice(
    VkPhysicalDevice phys, const VkDeviceCreateInfo *info, const VkAllocationCallbacks *alloc,
    VkDevice *device) {
    VkLayerDeviceCreateInfo *link = (VkLayerDeviceCreateInfo *)info->pNext;
    while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO &&
                     link->function == VK_LAYER_LINK_INFO))
        link = (VkLayerDeviceCreateInfo *)link->pNext;
    if (!link) return VK_ERROR_INITIALIZATION_FAILED;
    PFN_vkGetInstanceProcAddr gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
    next_gdpa = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
    link->u.pLayerInfo = link->u.pLayerInfo->pNext;
    PFN_vkCreateDevice create = (PFN_vkCreateDevice)gipa(NULL, "vkCreateDevice");
    /* what the application enabled: extensions and the robustness features */
    char line[8192];
    int n = snprintf(line, sizeof line, "extensions");
    for (uint32_t i = 0; i < info->enabledExtensionCount && n < 7000; i++)
        n += snprintf(line + n, sizeof line - n, " %s", info->ppEnabledExtensionNames[i]);
    snprintf(line + n, sizeof line - n, "\n");
    log_device(line);
    const VkPhysicalDeviceFeatures *f = info->pEnabledFeatures;
    for (const VkBaseInStructure *p = info->pNext; p; p = p->pNext) {
        if (p->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2)
            f = &((const VkPhysicalDeviceFeatures2 *)p)->features;
        if (p->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ROBUSTNESS_2_FEATURES_EXT) {
            const VkPhysicalDeviceRobustness2FeaturesEXT *r2 =
                (const VkPhysicalDeviceRobustness2FeaturesEXT *)p;
            snprintf(line, sizeof line, "robustBufferAccess2 %u\nrobustImageAccess2 %u\n",
                     r2->robustBufferAccess2, r2->robustImageAccess2);
            log_device(line);
        }
        if (p->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES) {
            const VkPhysicalDeviceVulkan13Features *v13 =
                (const VkPhysicalDeviceVulkan13Features *)p;
            snprintf(line, sizeof line, "robustImageAccess %u\n"
                     "shaderZeroInitializeWorkgroupMemory %u\n", v13->robustImageAccess,
                     v13->shaderZeroInitializeWorkgroupMemory);
            log_device(line);
        }
        if (p->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ZERO_INITIALIZE_WORKGROUP_MEMORY_FEATURES) {
            snprintf(line, sizeof line, "shaderZeroInitializeWorkgroupMemory %u\n",
                     ((const VkPhysicalDeviceZeroInitializeWorkgroupMemoryFeatures *)p)
                         ->shaderZeroInitializeWorkgroupMemory);
            log_device(line);
        }
    }
    if (f) {
        snprintf(line, sizeof line, "robustBufferAccess %u\n", f->robustBufferAccess);
        log_device(line);
    }
    VkResult r = create(phys, info, alloc, device);
    if (r == VK_SUCCESS) {
        next_create_module = (PFN_vkCreateShaderModule)next_gdpa(*device, "vkCreateShaderModule");
        next_create_compute =
            (PFN_vkCreateComputePipelines)next_gdpa(*device, "vkCreateComputePipelines");
    }
    return r;
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr(VkDevice device,
                                                                     const char *name) {
    if (!strcmp(name, "vkGetDeviceProcAddr")) return (PFN_vkVoidFunction)vkGetDeviceProcAddr;
    if (!strcmp(name, "vkCreateShaderModule")) return (PFN_vkVoidFunction)cap_CreateShaderModule;
    if (!strcmp(name, "vkCreateComputePipelines"))
        return (PFN_vkVoidFunction)cap_CreateComputePipelines;
    return next_gdpa(device, name);
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance instance,
                                                                       const char *name) {
    if (!strcmp(name, "vkGetInstanceProcAddr")) return (PFN_vkVoidFunction)vkGetInstanceProcAddr;
    if (!strcmp(name, "vkCreateInstance")) return (PFN_vkVoidFunction)cap_CreateInstance;
    if (!strcmp(name, "vkCreateDevice")) return (PFN_vkVoidFunction)cap_CreateDevice;
    if (!strcmp(name, "vkGetPhysicalDeviceProperties") && next_props)
        return (PFN_vkVoidFunction)cap_GetPhysicalDeviceProperties;
    if (!strcmp(name, "vkGetPhysicalDeviceProperties2") && next_props2)
        return (PFN_vkVoidFunction)cap_GetPhysicalDeviceProperties2;
    if (!strcmp(name, "vkGetPhysicalDeviceProperties2KHR") && next_props2khr)
        return (PFN_vkVoidFunction)cap_GetPhysicalDeviceProperties2KHR;
    if (!strcmp(name, "vkGetDeviceProcAddr") || !strcmp(name, "vkCreateShaderModule") ||
        !strcmp(name, "vkCreateComputePipelines"))
        return vkGetDeviceProcAddr(VK_NULL_HANDLE, name);
    return next_gipa(instance, name);
}
